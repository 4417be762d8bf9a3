"""Table definitions (SQLAlchemy Core). The Alembic migrations create these;
tests/integration/test_migrations.py checks that the two agree."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

# JSON documents: JSONB on PostgreSQL, TEXT holding JSON on SQLite.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

# Predicates of the partial indexes of ``jobs`` (migration 0007 writes the same).
WAITING_ONLY = sa.text("state = 'WAITING'")
NOT_ENDED = sa.text("state IN ('WAITING', 'RUNNING', 'CANCELING')")
HAS_ENDED = sa.text("ended_at IS NOT NULL")
HAS_KEY = sa.text("idempotency_key IS NOT NULL")
JOBS_FILLFACTOR = 90

spaces = sa.Table(
    "spaces",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("parallel_limit", sa.Integer, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Free execution seconds a month; None is unlimited.
    sa.Column("quota_seconds", sa.Float, nullable=True),
    sa.Column("pay_as_you_go", sa.Boolean, nullable=False, server_default=sa.false()),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("space_id", sa.String(36), sa.ForeignKey("spaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    # SHA-256 of the secret: keys are 256-bit random, so a fast hash is enough.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
)

rules = sa.Table(
    "rules",
    metadata,
    sa.Column("base_id", sa.String(36), primary_key=True),
    sa.Column("space_id", sa.String(36), sa.ForeignKey("spaces.id"), nullable=False),
    sa.Column("alias", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("space_id", "alias", name="uq_rules_space_alias"),
)

rule_versions = sa.Table(
    "rule_versions",
    metadata,
    sa.Column("base_id", sa.String(36), sa.ForeignKey("rules.base_id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("document", Json, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("space_id", sa.String(36), sa.ForeignKey("spaces.id"), nullable=False),
    sa.Column("base_id", sa.String(36), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("rule_type", sa.String(40), nullable=False),
    sa.Column("correlation_id", sa.String(200), nullable=False),
    sa.Column("input", Json, nullable=True),
    sa.Column("output", Json, nullable=True),
    sa.Column("error", Json, nullable=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("parallel_limit", sa.Integer, nullable=False),
    sa.Column("environment_group", sa.String(100), nullable=False),
    sa.Column("api_key_id", sa.String(36), nullable=False),
    sa.Column("api_key_name", sa.String(200), nullable=False),
    sa.Column("execution_limit_s", sa.Float, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("claimed_at", Timestamp, nullable=True),
    sa.Column("ended_at", Timestamp, nullable=True),
    sa.Column("worker_id", sa.String(100), nullable=True),
    sa.Column("lease_expires_at", Timestamp, nullable=True),
    sa.Column("deadline_at", Timestamp, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress", Json, nullable=True),  # {"done", "total"} while a flow loops
    # settings.retryOnWorkerLoss of the flow: re-queue this many times if the worker dies
    sa.Column("retry_on_loss", sa.Integer, nullable=False, server_default="0"),
    # Idempotency-Key of the start, while it holds (cleared when a start after
    # the key's time to live takes it over), and a hash of what was asked.
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    sa.Column("rerun_of", sa.String(36), nullable=True),  # the job this one re-runs
    # Only jobs that have not ended are in the state-led indexes (partial on
    # PostgreSQL): a job that ends, or is canceled while waiting, then enters
    # just three indexes (primary key, ix_jobs_ended, ix_jobs_space_created)
    # instead of nine; a bulk cancel writes a third of the index entries. On
    # SQLite the first three are whole: its planner proves a partial index only
    # from an identical term, and the store asks ``state IN (...)`` lists.
    # The claim query: waiting jobs by priority, then age.
    sa.Index(
        "ix_jobs_claim",
        "state",
        sa.text("priority DESC"),
        "created_at",
        postgresql_where=WAITING_ONLY,
        sqlite_where=WAITING_ONLY,
    ),
    # Jobs per space and state while not ended: running count per space (claim),
    # waiting count (start cap), cancel-all per space, a worker's canceling jobs,
    # expired leases and deadlines, the queue depths of /metrics.
    sa.Index("ix_jobs_open", "state", "space_id", postgresql_where=NOT_ENDED),
    # Cancel-all per rule version; a version's jobs in use (rule deletion).
    sa.Index("ix_jobs_rule_open", "base_id", "version", "state", postgresql_where=NOT_ENDED),
    # Retention: the oldest finished jobs first (prune_finished); finished per
    # minute (dashboard). Only finished jobs have an ended_at.
    sa.Index("ix_jobs_ended", "ended_at", postgresql_where=HAS_ENDED, sqlite_where=HAS_ENDED),
    # Listing a space's jobs newest first, keyset-paginated on (created_at, id);
    # with the state, a space's jobs per state (dashboard, usage) are counted
    # from the index alone.
    sa.Index("ix_jobs_space_created", "space_id", "created_at", "id", "state"),
    # One job per key and space: two starts racing with one key create one job.
    # Most jobs have no key: they are not in the index.
    sa.Index(
        "uq_jobs_space_idempotency",
        "space_id",
        "idempotency_key",
        unique=True,
        postgresql_where=HAS_KEY,
        sqlite_where=HAS_KEY,
    ),
    # Free room in each page lets an update that changes no indexed column
    # (lease renewals, progress) stay on its page without new index entries (HOT).
    postgresql_with={"fillfactor": JOBS_FILLFACTOR},
)

# What a job run produced besides its output, kept apart from the hot jobs table.
job_details = sa.Table(
    "job_details",
    metadata,
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("trace", Json, nullable=True),
    sa.Column("logs", Json, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Every worker process records itself; a worker that stops beating is dead,
# and its jobs' leases run out and are reaped by any live one.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("running", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("last_heartbeat_at", Timestamp, nullable=False),
    sa.Column("stopped_at", Timestamp, nullable=True),
)

# ---- webhooks (issue 5) ----------------------------------------------------------

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("space_id", sa.String(36), sa.ForeignKey("spaces.id"), nullable=False),
    sa.Column("alias", sa.String(200), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("events", Json, nullable=False),  # ["JOB.COMPLETED", ...]
    # True: every flow of the space; False: only the flows in webhook_rules.
    sa.Column("all_rules", sa.Boolean, nullable=False),
    # The signing secret, encrypted with the deployment's key (never plain).
    sa.Column("secret_encrypted", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("space_id", "alias", name="uq_webhooks_space_alias"),
)

webhook_rules = sa.Table(
    "webhook_rules",
    metadata,
    sa.Column(
        "webhook_id",
        sa.String(36),
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("base_id", sa.String(36), primary_key=True),
    sa.Index("ix_webhook_rules_base", "base_id"),
)

# The outbox: one row per event and webhook, written in the transaction that
# ended the job, delivered (and retried) by the dispatcher in the workers.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "webhook_id",
        sa.String(36),
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("space_id", sa.String(36), nullable=False),
    sa.Column("job_id", sa.String(36), nullable=True),  # None for a test event
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("payload", Json, nullable=True),  # the event's data when not a job
    sa.Column("state", sa.String(20), nullable=False),  # PENDING, DELIVERED, FAILED
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    # Start of the retry window: creation, or the last manual redeliver.
    sa.Column("retry_since", Timestamp, nullable=False),
    sa.Column("locked_by", sa.String(100), nullable=True),
    sa.Column("locked_until", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),
    sa.Index("ix_webhook_deliveries_job", "job_id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "delivery_id",
        sa.String(36),
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),  # an excerpt, never a secret
    sa.Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),
)

# ---- usage (issue 5) ---------------------------------------------------------------

# Execution seconds per space and calendar month (UTC), added in the
# transaction that ends a job. billed_seconds <= used_seconds: seconds past
# the quota without pay-as-you-go are used but not billed.
space_usage = sa.Table(
    "space_usage",
    metadata,
    sa.Column(
        "space_id", sa.String(36), sa.ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("month", sa.String(7), primary_key=True),  # "2026-11"
    sa.Column("used_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("billed_seconds", sa.Float, nullable=False, server_default="0"),
)

# Solver API audits (X-Audit: true): the request and the result of one solve,
# readable by id until ``expires_at`` (X-Audit-Ttl days), then pruned.
solve_audits = sa.Table(
    "solve_audits",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("space_id", sa.String(36), sa.ForeignKey("spaces.id"), nullable=False),
    sa.Column("base_id", sa.String(36), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("correlation_id", sa.String(200), nullable=False),
    sa.Column("request", Json, nullable=False),
    sa.Column("response", Json, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Index("ix_solve_audits_expires", "expires_at"),
)
