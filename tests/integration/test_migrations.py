"""The Alembic migrations build exactly the tables of store/tables.py, and
migration 0007's partial indexes come and go with upgrade and downgrade."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from flowjobs.store import sync_url, upgrade
from flowjobs.store.migrate import alembic_config
from flowjobs.store.tables import metadata

NEW_INDEXES = {
    "ix_jobs_claim",
    "ix_jobs_open",
    "ix_jobs_rule_open",
    "ix_jobs_ended",
    "ix_jobs_space_created",
    "uq_jobs_space_idempotency",
}
# The indexes of revision 0006, which 0007 replaces and its downgrade restores.
OLD_INDEXES = {
    "ix_jobs_claim",
    "ix_jobs_space_state",
    "ix_jobs_rule_state",
    "ix_jobs_worker_state",
    "ix_jobs_state_lease",
    "ix_jobs_ended",
    "ix_jobs_space_created",
    "uq_jobs_space_idempotency",
}


def _job_indexes(db_url: str) -> dict[str, str]:
    """Every index of ``jobs`` but the primary key's, by name: its SQL, squeezed
    (lower case, no quotes, single spaces) so that both databases compare alike."""
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                query = (
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'"
                )
            else:
                query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'jobs'"
            rows = conn.exec_driver_sql(query).all()
    finally:
        engine.dispose()
    return {
        name: " ".join(sql.lower().replace('"', "").split())
        for name, sql in rows
        if sql is not None and not name.endswith("_pkey")
    }


def _fillfactor(db_url: str) -> str | None:
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = 'jobs'"
            ).scalar_one()
    finally:
        engine.dispose()
    return None if options is None else ",".join(options)


def test_migrations_match_table_definitions(db_url: str) -> None:
    upgrade(db_url)  # already at head: running it again is a no-op
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    # ix_jobs_claim orders by "priority DESC", an expression that Alembic cannot
    # compare; the test below checks it.
    assert [d for d in diff if getattr(d[1], "name", None) != "ix_jobs_claim"] == []
    assert set(_job_indexes(db_url)) == NEW_INDEXES


def test_jobs_that_ended_leave_the_state_led_indexes(db_url: str) -> None:
    indexes = _job_indexes(db_url)
    postgres = not db_url.startswith("sqlite")
    not_ended = "where ((state)::text = any ((array['waiting'::character varying"
    claim = indexes["ix_jobs_claim"]
    assert "priority desc" in claim
    assert claim.endswith("'waiting'::text)" if postgres else "'waiting'")
    # SQLite keeps these two whole: its planner cannot prove an IN list.
    assert (not_ended in indexes["ix_jobs_open"]) is postgres
    assert (not_ended in indexes["ix_jobs_rule_open"]) is postgres
    assert "where" not in indexes["ix_jobs_space_created"]
    assert "ended_at is not null" in indexes["ix_jobs_ended"]
    assert "idempotency_key is not null" in indexes["uq_jobs_space_idempotency"]
    assert indexes["uq_jobs_space_idempotency"].startswith("create unique index")
    if postgres:
        assert _fillfactor(db_url) == "fillfactor=90"


def test_downgrade_restores_the_whole_indexes_and_upgrade_brings_back_the_partial_ones(
    db_url: str,
) -> None:
    partial = _job_indexes(db_url)
    command.downgrade(alembic_config(db_url), "0006")
    old = _job_indexes(db_url)
    assert set(old) == OLD_INDEXES
    assert not any(" where " in sql for sql in old.values())
    assert "priority desc" in old["ix_jobs_claim"]
    if not db_url.startswith("sqlite"):
        assert _fillfactor(db_url) is None
    upgrade(db_url)
    assert _job_indexes(db_url) == partial
