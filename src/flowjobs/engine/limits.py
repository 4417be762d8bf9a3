"""Plain value objects shared by the engine: resource limits and the job reference."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineLimits:
    """Bounds applied to every JSONata evaluation."""

    expression_timeout_ms: int = 1000
    expression_max_depth: int = 100


@dataclass(frozen=True)
class JobRef:
    """The job a flow runs for, as expressions see it under ``job``."""

    job_id: str
    correlation_id: str
    space_id: str

    def as_scope(self) -> dict[str, str]:
        return {
            "jobId": self.job_id,
            "correlationId": self.correlation_id,
            "spaceId": self.space_id,
        }
