"""Every problem of a decision-table document, each with its row and column."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowjobs.decisions.problems import RuleProblem


def validate_rule(document: Mapping[str, Any]) -> list[RuleProblem]:
    """Every problem of ``document`` at once; [] when it is valid."""
    return []


def referenced_rules(document: Mapping[str, Any]) -> set[tuple[str, int | None]]:
    """The rules the table calls through SOLVE with literal ids or aliases (and versions)."""
    return set()
