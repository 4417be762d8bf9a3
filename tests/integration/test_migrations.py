"""The Alembic migrations build exactly the tables of store/tables.py."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from flowjobs.store import sync_url, upgrade
from flowjobs.store.tables import metadata


def test_migrations_match_table_definitions(db_url: str) -> None:
    upgrade(db_url)  # already at head: running it again is a no-op
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("jobs")}
    finally:
        engine.dispose()
    # ix_jobs_claim orders by "priority DESC", an expression that Alembic cannot
    # compare; its presence is checked below instead.
    assert [d for d in diff if getattr(d[1], "name", None) != "ix_jobs_claim"] == []
    assert {
        "ix_jobs_claim",
        "ix_jobs_space_state",
        "ix_jobs_rule_state",
        "ix_jobs_worker_state",
        "ix_jobs_state_lease",
    } <= indexes
