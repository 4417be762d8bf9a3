"""partial indexes on jobs: a job that ends leaves the state-led ones

A job that ends (or is canceled while waiting) is written again by PostgreSQL
with an entry in every index of ``jobs`` whose predicate it meets. With the
state-led indexes limited to jobs that have not ended, a canceled or finished
job enters three indexes (primary key, ix_jobs_ended, ix_jobs_space_created)
instead of nine. ix_jobs_space_state, ix_jobs_worker_state and
ix_jobs_state_lease go: ix_jobs_open (state, space_id) serves their queries.
On SQLite ix_jobs_open and ix_jobs_rule_open stay whole (see store/tables.py).
PostgreSQL also leaves 10 % of each page of ``jobs`` free (fillfactor 90).

Rebuilding the indexes locks writes to ``jobs`` while it runs (seconds per
million jobs on PostgreSQL; the partial ones read only the unfinished jobs).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WAITING_ONLY = sa.text("state = 'WAITING'")
NOT_ENDED = sa.text("state IN ('WAITING', 'RUNNING', 'CANCELING')")
HAS_ENDED = sa.text("ended_at IS NOT NULL")
HAS_KEY = sa.text("idempotency_key IS NOT NULL")
CLAIM_COLUMNS: list[str | sa.TextClause] = ["state", sa.text("priority DESC"), "created_at"]


def upgrade() -> None:
    for name in (
        "ix_jobs_claim",
        "ix_jobs_space_state",
        "ix_jobs_rule_state",
        "ix_jobs_worker_state",
        "ix_jobs_state_lease",
        "ix_jobs_ended",
        "ix_jobs_space_created",
        "uq_jobs_space_idempotency",
    ):
        op.drop_index(name, table_name="jobs")
    op.create_index(
        "ix_jobs_claim",
        "jobs",
        CLAIM_COLUMNS,
        postgresql_where=WAITING_ONLY,
        sqlite_where=WAITING_ONLY,
    )
    op.create_index("ix_jobs_open", "jobs", ["state", "space_id"], postgresql_where=NOT_ENDED)
    op.create_index(
        "ix_jobs_rule_open", "jobs", ["base_id", "version", "state"], postgresql_where=NOT_ENDED
    )
    op.create_index(
        "ix_jobs_ended", "jobs", ["ended_at"], postgresql_where=HAS_ENDED, sqlite_where=HAS_ENDED
    )
    op.create_index("ix_jobs_space_created", "jobs", ["space_id", "created_at", "id", "state"])
    op.create_index(
        "uq_jobs_space_idempotency",
        "jobs",
        ["space_id", "idempotency_key"],
        unique=True,
        postgresql_where=HAS_KEY,
        sqlite_where=HAS_KEY,
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs RESET (fillfactor)")
    for name in (
        "uq_jobs_space_idempotency",
        "ix_jobs_space_created",
        "ix_jobs_ended",
        "ix_jobs_rule_open",
        "ix_jobs_open",
        "ix_jobs_claim",
    ):
        op.drop_index(name, table_name="jobs")
    op.create_index("ix_jobs_claim", "jobs", CLAIM_COLUMNS)
    op.create_index("ix_jobs_rule_state", "jobs", ["base_id", "version", "state"])
    op.create_index("ix_jobs_space_state", "jobs", ["space_id", "state"])
    op.create_index("ix_jobs_state_lease", "jobs", ["state", "lease_expires_at"])
    op.create_index("ix_jobs_worker_state", "jobs", ["worker_id", "state"])
    op.create_index("ix_jobs_ended", "jobs", ["ended_at"])
    op.create_index("ix_jobs_space_created", "jobs", ["space_id", "created_at", "id"])
    op.create_index(
        "uq_jobs_space_idempotency", "jobs", ["space_id", "idempotency_key"], unique=True
    )
