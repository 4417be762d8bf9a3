"""A PostgreSQL role of its own for a test: created before, dropped after.

Named SQL connections must not run as a superuser (the worker refuses them),
so tests that use a PostgreSQL named connection log in as a fresh role with
no rights beyond what the test grants it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

PG_ADMIN = os.environ.get("FLOWJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def admin(*statements: str, database: str | None = None) -> None:
    url = PG_ADMIN if database is None else PG_ADMIN.rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        for statement in statements:
            conn.execute(statement.encode())


@dataclass
class PgRole:
    name: str
    password: str
    database: str  # a database the role owns
    granted_in: list[str] = field(default_factory=list)  # databases with grants to drop

    def grant(self, database: str, *statements: str) -> None:
        """Run ``statements`` (GRANTs to this role) in ``database``; undone at the end."""
        self.granted_in.append(database)
        admin(*statements, database=database)

    def url(self, database: str | None = None) -> str:
        host = PG_ADMIN.rsplit("@", 1)[1].rsplit("/", 1)[0]
        return f"postgresql://{self.name}:{self.password}@{host}/{database or self.database}"


@contextmanager
def pg_role(password: str = "role-secret") -> Iterator[PgRole]:
    """A login role (no superuser, no CREATEROLE) owning a new database."""
    suffix = uuid.uuid4().hex[:10]
    role = PgRole(f"flowjobs_role_{suffix}", password, f"flowjobs_roledb_{suffix}")
    admin(
        f"CREATE ROLE {role.name} LOGIN NOSUPERUSER NOCREATEROLE PASSWORD '{password}'",
        f"CREATE DATABASE {role.database} OWNER {role.name}",
    )
    try:
        yield role
    finally:
        for database in role.granted_in:
            admin(f"DROP OWNED BY {role.name}", database=database)
        admin(
            f"DROP DATABASE IF EXISTS {role.database} WITH (FORCE)",
            f"DROP OWNED BY {role.name}",
            f"DROP ROLE IF EXISTS {role.name}",
        )
