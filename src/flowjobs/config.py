"""Settings: built once by the CLI (or the app factory) and passed down.

Every field can be set with an environment variable ``FLOWJOBS_<NAME>``; the
reference deployment's ``JOBS_SERVER_DISABLED`` is accepted as well.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ALL_SPACES = "*"


class SqlConnectionSetting(BaseModel):
    """One named SQL connection: its URL and the ids of the spaces whose flows
    may use it (``"*"``: every space). A connection lists no space until the
    operator names them, so adding one opens nothing by itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    spaces: tuple[str, ...] = ()

    def open_to(self, space_id: str) -> bool:
        return ALL_SPACES in self.spaces or space_id in self.spaces


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWJOBS_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./flowjobs.db",
        description="SQLAlchemy URL; sqlite:///path (default) or postgresql://...",
    )
    environment_group: str = Field("production", description="context.environmentGroup of jobs")
    db_pool_size: int = Field(5, gt=0, description="database connections kept per process")
    db_max_overflow: int = Field(5, ge=0, description="extra connections allowed under load")
    start_batch_max_rows: int = Field(
        500,
        ge=1,
        le=10_000,
        description="concurrent starts written together in one statement (PostgreSQL) or "
        "transaction (SQLite) at most; 1 writes each start on its own",
    )

    # API
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="largest accepted request body")
    max_json_depth: int = Field(
        64,
        gt=0,
        # at most 200: the JSON serializer of responses gives up near 255 levels
        le=200,
        description="arrays and objects nested in one JSON (or YAML) request body, "
        "and in a job's output, log lines and trace",
    )
    max_header_bytes: int = Field(
        16 * 1024, gt=0, description="a request's header names and values, added up"
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="a request's headers must arrive within this (else 408 and the "
        "connection closed)",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="while a request's body is incomplete, the client must send some of it "
        "this often (else the connection is closed)",
    )
    max_yaml_bytes: int = Field(
        512 * 1024,
        gt=0,
        description="largest YAML request body (YAML parses at about 60 KB a second in "
        "pure Python); a larger one is refused with 413 unread",
    )
    document_budget_seconds: float = Field(
        5.0,
        gt=0,
        description="CPU time one flow document from a request may take to parse (YAML) "
        "and to validate, each, in a thread off the event loop; over it: 413 "
        "DOCUMENT_OVER_BUDGET",
    )
    jobs_server_disabled: bool = Field(
        False,
        validation_alias=AliasChoices("FLOWJOBS_JOBS_SERVER_DISABLED", "JOBS_SERVER_DISABLED"),
        description="serve runs no worker when true",
    )
    idempotency_ttl_hours: float = Field(
        24.0, gt=0, description="how long an Idempotency-Key returns the job it started"
    )
    watch_poll_interval: float = Field(
        1.0, gt=0, description="how often the watched jobs of waiting requests are re-read"
    )
    max_waiters: int = Field(
        1000, ge=1, description="long-polls and event streams open at once per process"
    )
    max_waiters_per_space: int | None = Field(
        250,
        ge=1,
        description="long-polls and event streams open at once per space and process, so one "
        "space cannot take every waiter slot (None: only max_waiters)",
    )
    max_waiters_per_key: int | None = Field(
        100,
        ge=1,
        description="long-polls and event streams open at once per API key and process "
        "(None: no cap per key)",
    )
    sse_keepalive_seconds: float = Field(
        15.0, gt=0, description="a comment line on an idle event stream this often"
    )
    # Abuse limits (docs/security.md); all off by default, so they cost nothing
    start_rate_per_key: float | None = Field(
        None, gt=0, description="job starts a second per API key and process (None: no limit)"
    )
    start_burst_per_key: int = Field(
        20, ge=1, description="starts one key may make at once before the rate applies"
    )
    max_waiting_jobs_per_space: int | None = Field(
        None, ge=1, description="a start is refused (429) while the space has this many WAITING"
    )
    key_cache_seconds: float = Field(
        1.0,
        ge=0,
        le=1.0,
        description="how long a process trusts an API key lookup (at most 1 s, so a revoked "
        "key stops working within a second); 0 turns the cache off",
    )
    catalog_cache_seconds: float = Field(
        1.0,
        ge=0,
        le=60.0,
        description="how long a process trusts a start's space and rule lookups when another "
        "process changed them; changes made in the same process apply at once",
    )
    ready_min_free_mb: float = Field(
        64.0,
        ge=0,
        description="SQLite: /readyz answers 503 while the database file's disk has less "
        "free space than this (MiB); 0 turns the check off",
    )
    metrics_token: SecretStr | None = Field(
        None, description="when set, GET /metrics needs Authorization: Bearer <token>"
    )

    # Dashboard (/ui)
    ui_enabled: bool = Field(True, description="serve the dashboard at /ui")
    ui_secret: SecretStr | None = Field(
        None,
        description="signs dashboard session cookies; unset: a random one per process "
        "(sessions end on restart and are not shared between API processes)",
    )
    ui_session_hours: float = Field(12.0, gt=0, description="a dashboard sign-in lasts this long")
    ui_refresh_seconds: float = Field(
        1.5, ge=0.2, le=60, description="how often open dashboard pages refresh live data"
    )

    # Worker
    concurrency: int = Field(16, ge=1, le=1000, description="jobs one worker runs at once")
    lease_seconds: float = Field(30.0, gt=0, description="a running job's lease; renewed at 1/3")
    poll_interval: float = Field(1.0, gt=0, description="idle poll for waiting jobs (seconds)")
    claim_synchronous_commit: bool = Field(
        False,
        description=(
            "PostgreSQL: a claim waits for its commit to reach disk; off (the default) "
            "saves that flush, and a database crash may then run its last claims again"
        ),
    )
    cancel_poll_interval: float = Field(
        0.25, gt=0, description="how often a worker looks for cancels"
    )
    cancel_grace_seconds: float = Field(
        10.0,
        ge=0,
        description="a canceled job's flow is canceled again at every cancel poll until it "
        "stops; after this long it is recorded CANCELED even if it never stops",
    )
    reap_interval: float = Field(5.0, gt=0, description="how often expired leases are reaped")
    execution_limit_seconds: float = Field(
        24 * 3600.0, gt=0, description="longest a job may run; a flow may set a lower one"
    )
    shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="on SIGTERM, how long running jobs may go on before release"
    )
    retention_days: float | None = Field(
        None, gt=0, description="workers delete finished jobs older than this (None: keep all)"
    )

    # Flow engine
    handler_prefixes: list[str] = Field(
        default_factory=list,
        description="module prefixes that code-first flows may name as handler",
    )
    expression_timeout_ms: int = Field(1000, gt=0, description="one JSONata evaluation")
    expression_max_depth: int = Field(100, gt=0, description="JSONata recursion depth")
    max_nodes: int = Field(150, gt=0, description="nodes in one flow document")
    max_foreach_items: int = Field(100_000, gt=0, description="iterations of one foreach")
    max_parallel: int = Field(64, gt=0, description="largest parallel: of a foreach")
    max_call_depth: int = Field(5, ge=0, description="flows calling flows")
    max_output_bytes: int = Field(16 * 1024 * 1024, gt=0, description="a job's output as JSON")
    max_string_length: int = Field(
        100_000, gt=0, description="characters of one string in a flow document"
    )
    max_array_length: int = Field(10_000, gt=0, description="items of one array in a flow document")
    max_expression_result_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="one JSONata value (approximate JSON size); over it the job fails "
        "with LIMIT_EXPRESSION_RESULT_SIZE",
    )
    max_variable_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="one flow variable's value (approximate JSON size); over it the job "
        "fails with LIMIT_VARIABLE_SIZE",
    )
    max_job_data_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="a run's variables and node results together (approximate JSON size); "
        "over it the job fails with LIMIT_JOB_DATA_SIZE",
    )
    trace_max_entries: int = Field(500, gt=0, description="trace entries kept per job")
    trace_excerpt_bytes: int = Field(500, gt=0, description="result excerpt per trace entry")
    job_log_max_lines: int = Field(1000, gt=0, description="log lines kept per job")
    job_log_line_max_bytes: int = Field(
        8192,
        ge=256,
        description="one log line's message (UTF-8 bytes); a longer one is truncated and "
        "marked, its fields other than level, node and time dropped past the same size",
    )
    sql_connections: dict[str, SqlConnectionSetting] = Field(
        default_factory=dict,
        description="named SQL connections for sql nodes, JSON: "
        '{"crm": {"url": "postgresql://...", "spaces": ["<space id>"]}}; '
        "a bare URL is open to no space",
    )
    sql_pool_size: int = Field(5, gt=0, description="connections per named SQL connection")
    rest_allow: list[str] = Field(
        default_factory=list,
        description="hosts, IPs or CIDR ranges rest nodes may reach although not public",
    )
    details_flush_interval: float = Field(
        1.0, gt=0, description="how often a running job's trace, logs and progress are saved"
    )

    # Webhooks
    secret_key: SecretStr | None = Field(
        None,
        description="Fernet keys, comma-separated: the first encrypts webhook secrets, "
        "every one decrypts (key rotation)",
    )
    webhook_allow: list[str] = Field(
        default_factory=list,
        description="hosts, IPs or CIDR ranges webhook URLs may reach although not public",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="one delivery attempt")
    webhook_lease_seconds: float = Field(
        60.0, gt=0, description="a dispatcher's hold on a delivery it sends; above the timeout"
    )
    webhook_retry_first_delay: float = Field(10.0, gt=0, description="pause after attempt 1")
    webhook_retry_factor: float = Field(2.0, ge=1, description="each pause is this times longer")
    webhook_retry_max_delay: float = Field(3600.0, gt=0, description="longest pause")
    webhook_retry_jitter: float = Field(
        0.2, ge=0, le=1, description="pauses vary at random by up to this fraction"
    )
    webhook_give_up_seconds: float = Field(
        24 * 3600.0, gt=0, description="a delivery not accepted within this is FAILED"
    )
    webhook_poll_interval: float = Field(1.0, gt=0, description="idle poll for due deliveries")
    webhook_concurrency: int = Field(16, ge=1, le=1000, description="sends at once per process")
    webhook_concurrency_per_endpoint: int = Field(
        4, ge=1, le=1000, description="sends at once per webhook and process"
    )
    webhook_concurrency_per_space: int = Field(
        8,
        ge=1,
        le=1000,
        description="sends at once per space and process, so that one space's deliveries "
        "(to a slow receiver, say) never take every send slot from the others",
    )

    # Logging
    log_level: str = Field("INFO")
    log_format: Literal["json", "text"] | None = Field(
        None, description="json: one JSON object per line on stderr; text (default): plain"
    )
    log_json: bool | None = Field(
        None, description="deprecated: FLOWJOBS_LOG_FORMAT=json; used when that is not set"
    )

    @field_validator("sql_connections", mode="before")
    @classmethod
    def _bare_urls(cls, value: Any) -> Any:
        """``{"crm": "postgresql://..."}`` is ``{"crm": {"url": ...}}``: open to no space."""
        if isinstance(value, dict):
            return {k: {"url": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    def sql_connections_open_to(self, space_id: str) -> list[str]:
        """The names of the SQL connections that flows of ``space_id`` may use."""
        return sorted(n for n, c in self.sql_connections.items() if c.open_to(space_id))

    @model_validator(mode="after")
    def _lease_covers_attempt(self) -> Self:
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must be longer than webhook_timeout_seconds")
        return self

    @property
    def secret_keys(self) -> list[str]:
        """The Fernet keys of FLOWJOBS_SECRET_KEY, the encrypting one first."""
        if self.secret_key is None:
            return []
        return [k.strip() for k in self.secret_key.get_secret_value().split(",") if k.strip()]

    @property
    def heartbeat_interval(self) -> float:
        return self.lease_seconds / 3

    @property
    def json_logs(self) -> bool:
        """Log as JSON lines: FLOWJOBS_LOG_FORMAT, else the older
        FLOWJOBS_LOG_JSON, else plain text."""
        if self.log_format is not None:
            return self.log_format == "json"
        return bool(self.log_json)
