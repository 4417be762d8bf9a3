"""Rules: their types, publication status and stored versions."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class RuleStatus(enum.StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"


RULE_TYPE_FLOW = "integration-flow"


RULE_TYPE_TABLE = "decision-table"  # DecisionRules' decision tables, solved by the Solver API


RULE_TYPE_COMPOSITION = "composition"  # DecisionRules' rule flows: tables chained by mappings


@dataclass(frozen=True)
class RuleVersion:
    base_id: str
    space_id: str
    alias: str
    name: str
    description: str | None
    type: str
    version: int
    status: RuleStatus
    document: dict[str, Any]
    created_at: datetime | None = None  # of this version; None until stored
    updated_at: datetime | None = None  # last change of its document or status
