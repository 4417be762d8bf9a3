"""solve_audits: the Solver API's audits (X-Audit), pruned after their TTL

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "solve_audits",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("space_id", sa.String(36), sa.ForeignKey("spaces.id"), nullable=False),
        sa.Column("base_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("correlation_id", sa.String(200), nullable=False),
        sa.Column("request", Json, nullable=False),
        sa.Column("response", Json, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
    )
    op.create_index("ix_solve_audits_expires", "solve_audits", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_solve_audits_expires", table_name="solve_audits")
    op.drop_table("solve_audits")
