"""job progress, trace and logs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("progress", Json, nullable=True))
    op.create_table(
        "job_details",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("trace", Json, nullable=True),
        sa.Column("logs", Json, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
    )


def downgrade() -> None:
    op.drop_table("job_details")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("progress")
