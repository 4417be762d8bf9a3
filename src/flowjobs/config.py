"""Settings: built once by the CLI (or the app factory) and passed down.

Every field can be set with an environment variable ``FLOWJOBS_<NAME>``; the
reference deployment's ``JOBS_SERVER_DISABLED`` is accepted as well.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWJOBS_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./flowjobs.db",
        description="SQLAlchemy URL; sqlite:///path (default) or postgresql://...",
    )
    environment_group: str = Field("production", description="context.environmentGroup of jobs")

    # API
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="largest accepted request body")
    jobs_server_disabled: bool = Field(
        False,
        validation_alias=AliasChoices("FLOWJOBS_JOBS_SERVER_DISABLED", "JOBS_SERVER_DISABLED"),
        description="serve runs no worker when true",
    )

    # Worker
    concurrency: int = Field(16, ge=1, le=1000, description="jobs one worker runs at once")
    lease_seconds: float = Field(30.0, gt=0, description="a running job's lease; renewed at 1/3")
    poll_interval: float = Field(1.0, gt=0, description="idle poll for waiting jobs (seconds)")
    cancel_poll_interval: float = Field(
        0.25, gt=0, description="how often a worker looks for cancels"
    )
    reap_interval: float = Field(5.0, gt=0, description="how often expired leases are reaped")
    execution_limit_seconds: float = Field(
        24 * 3600.0, gt=0, description="longest a job may run; a flow may set a lower one"
    )
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="on SIGTERM, how long running jobs may go on before release"
    )

    # Flow engine
    handler_prefixes: list[str] = Field(
        default_factory=list,
        description="module prefixes that code-first flows may name as handler",
    )
    expression_timeout_ms: int = Field(1000, gt=0)
    expression_max_depth: int = Field(100, gt=0)

    # Logging
    log_level: str = Field("INFO")
    log_json: bool = Field(True, description="JSON lines on stderr (false: plain text)")

    @property
    def heartbeat_interval(self) -> float:
        return self.lease_seconds / 3
