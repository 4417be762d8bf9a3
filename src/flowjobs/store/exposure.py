"""Who else can reach the job store on its PostgreSQL server: its server's
identity and the roles with any right on its tables. The worker refuses a
named SQL connection on the same server whose role is one of them
(engine/pg_guard.py), so a flow cannot read keys, jobs or secrets."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from flowjobs.store.sql import SqlStore
from flowjobs.store.tables import metadata

# The same identity as engine/pg_guard.py's cluster_id: the system identifier
# (shared by replicas, which hold the same data), else the start time.
_CLUSTER = sa.text("SELECT system_identifier::text FROM pg_control_system()")
_STARTED = sa.text("SELECT 'started ' || pg_postmaster_start_time()::text")
_READERS = sa.text(
    "SELECT r.rolname FROM pg_roles r WHERE EXISTS ("
    " SELECT 1 FROM unnest(CAST(:tables AS text[])) AS t(name)"
    " WHERE to_regclass(t.name) IS NOT NULL AND ("
    "  has_table_privilege(r.oid, to_regclass(t.name),"
    "   'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')"
    "  OR has_any_column_privilege(r.oid, to_regclass(t.name),"
    "   'SELECT, INSERT, UPDATE, REFERENCES')))"
)


@dataclass(frozen=True)
class StoreRoles:
    cluster: str
    readers: frozenset[str]


async def job_store_roles(store: SqlStore) -> StoreRoles | None:
    """The job store's server and the roles that can use its tables; None on SQLite."""
    if store.is_sqlite:
        return None
    tables = [*metadata.tables, "alembic_version"]
    async with store.db.read() as conn:
        try:
            cluster = str((await conn.execute(_CLUSTER)).scalar_one())
        except DBAPIError:  # pg_control_system() not granted (autocommit: no abort)
            cluster = str((await conn.execute(_STARTED)).scalar_one())
        rows = (await conn.execute(_READERS, {"tables": tables})).all()
    return StoreRoles(cluster, frozenset(str(r[0]) for r in rows))
