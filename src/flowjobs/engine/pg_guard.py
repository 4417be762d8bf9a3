"""What a PostgreSQL named connection may be, and what it may keep.

A flow's query is free SQL text, so a named connection can do whatever its
role can. A superuser (or a role that can become one, create roles, or use
the server's files and programs) can reach every database of the server,
the job store included; a role with rights on the job store's tables can
read its keys and secrets. Such a connection is refused: :func:`refusals`
says why, from the role's own facts (:func:`probe`) and, when the job store
is on the same server, the roles that can use its tables (given by the
caller, which knows the job store).

A pooled connection would also carry a job's session state (``SET``,
``SET ROLE``, temporary tables, prepared statements, ``LISTEN``, advisory
locks) to the next job of any space: :func:`discard_on_return` makes the pool
run ``DISCARD ALL`` on every connection it takes back.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

# Predefined roles that read or write the server's files or run its programs.
SERVER_FILE_ROLES = frozenset(
    {"pg_read_server_files", "pg_write_server_files", "pg_execute_server_program"}
)

# session_user, not current_user: a statement can RESET ROLE back to the
# user that logged in (a URL's options may have set another role), and then
# take any role that user is a member of.
_ROLES = text(
    "SELECT r.rolname, r.rolsuper, r.rolcreaterole FROM pg_roles r "
    "WHERE pg_has_role(session_user, r.oid, 'MEMBER') ORDER BY r.rolname"
)
_USER = text("SELECT session_user")
_CLUSTER = text("SELECT system_identifier::text FROM pg_control_system()")
_STARTED = text("SELECT 'started ' || pg_postmaster_start_time()::text")


@dataclass(frozen=True)
class PgRole:
    name: str
    superuser: bool
    create_role: bool


@dataclass(frozen=True)
class PgIdentity:
    """Who a connection is: the user it logged in as, every role that user is
    a member of (itself included: the rights it has or can take with SET
    ROLE), its server."""

    user: str
    roles: tuple[PgRole, ...]
    cluster: str


@dataclass(frozen=True)
class JobStoreRoles:
    """The job store's server (as :func:`cluster_id` gives it) and the roles
    that hold any right on one of its tables."""

    cluster: str
    readers: frozenset[str]


async def cluster_id(conn: Any) -> str:
    """The server's system identifier (shared by its replicas), or its start
    time where pg_control_system() is not granted; store/exposure.py reads
    the job store's the same way. ``conn``: an AsyncConnection."""
    try:
        async with conn.begin_nested():
            return str((await conn.execute(_CLUSTER)).scalar_one())
    except DBAPIError:
        return str((await conn.execute(_STARTED)).scalar_one())


async def probe(engine: AsyncEngine) -> PgIdentity:
    """The identity of ``engine``'s connections (one round trip per query)."""
    async with engine.connect() as conn:
        user = str((await conn.execute(_USER)).scalar_one())
        rows = (await conn.execute(_ROLES)).all()
        cluster = await cluster_id(conn)
        await conn.rollback()
    roles = tuple(PgRole(str(r[0]), bool(r[1]), bool(r[2])) for r in rows)
    return PgIdentity(user, roles, cluster)


def refusals(identity: PgIdentity, store: JobStoreRoles | None) -> list[str]:
    """Why a named connection with this identity must not run flows' SQL."""
    mine = next((r for r in identity.roles if r.name == identity.user), None)
    if mine is not None and mine.superuser:
        return ["is a superuser"]  # a member of every role: nothing more to say
    reasons: list[str] = []
    for role in identity.roles:
        through = "" if role is mine else f' (through "{role.name}")'
        if role.superuser:
            reasons.append("can become a superuser" + through)
        elif role.create_role:
            reasons.append("can create roles" + through)
        if role.name in SERVER_FILE_ROLES:
            reasons.append(f"is a member of {role.name} (the server's files and programs)")
        if store is not None and store.cluster == identity.cluster and role.name in store.readers:
            reasons.append("can use the job store's tables" + through)
    return reasons


def discard_on_return(engine: AsyncEngine) -> None:
    """Reset every connection the pool takes back with ``DISCARD ALL`` (after
    the rollback), so no session state passes from one statement to the next.
    Create the engine with ``pool_reset_on_return=None``: this is the reset."""

    @event.listens_for(engine.sync_engine.pool, "reset")
    def _discard(dbapi_connection: Any, _record: Any, reset_state: Any) -> None:
        dbapi_connection.rollback()
        if reset_state.terminate_only:  # being closed anyway
            return
        dbapi_connection.autocommit = True  # DISCARD ALL cannot run in a transaction
        try:
            cursor = dbapi_connection.cursor()
            with contextlib.closing(cursor):
                cursor.execute("DISCARD ALL")
        finally:
            dbapi_connection.autocommit = False
