"""The general condition operators (=, <>, IN, BTW, NULL, ...)."""

from __future__ import annotations
