"""A flow document's ``settings`` as the manager reads them when it queues a job.

The catalog validates them at push; these read them with defaults, so a
document stored before a check existed still gets a sane value.
"""

from __future__ import annotations

from typing import Any

from flowjobs.config import Settings


def execution_limit(settings: Settings, document: dict[str, Any]) -> float:
    """The deployment's limit, lowered by the flow's ``settings.timeoutSeconds``."""
    flow_settings = document.get("settings") or {}
    flow_limit = flow_settings.get("timeoutSeconds") if isinstance(flow_settings, dict) else None
    if isinstance(flow_limit, int | float) and flow_limit > 0:
        return min(float(flow_limit), settings.execution_limit_seconds)
    return settings.execution_limit_seconds


def retries_on_loss(document: dict[str, Any]) -> int:
    """``settings.retryOnWorkerLoss`` of a flow (validated at push), default 0."""
    flow_settings = document.get("settings") or {}
    retries = flow_settings.get("retryOnWorkerLoss", 0) if isinstance(flow_settings, dict) else 0
    return retries if isinstance(retries, int) and not isinstance(retries, bool) else 0
