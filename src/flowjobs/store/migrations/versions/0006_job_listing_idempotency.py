"""job listing index, idempotency keys and reruns

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("rerun_of", sa.String(36), nullable=True))
    op.create_index("ix_jobs_space_created", "jobs", ["space_id", "created_at", "id"])
    op.create_index(
        "uq_jobs_space_idempotency", "jobs", ["space_id", "idempotency_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_space_idempotency", table_name="jobs")
    op.drop_index("ix_jobs_space_created", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("rerun_of")
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
