"""The text function family of DecisionRules."""

from __future__ import annotations
