"""Fixtures shared by every test folder: databases.

SQLite: a new file per test. PostgreSQL: a new database per test, cloned from
a template that the migrations built once per session (no teardown needed
beyond dropping it). PostgreSQL tests run whenever the server on
127.0.0.1:5432 is reachable; with FLOWJOBS_REQUIRE_POSTGRES=1 (set by CI) an
unreachable server fails them instead of skipping.
"""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

PG_ADMIN = os.environ.get("FLOWJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# One template per checkout, so that test runs in two worktrees at once do not
# drop each other's template.
TEMPLATE = (
    "flowjobs_test_template_"
    + hashlib.sha256(str(Path(__file__).parent.resolve()).encode()).hexdigest()[:8]
)


def _pg_url(database: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + database


def _admin_execute(*statements: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> str:
    from flowjobs.store import upgrade

    try:
        _admin_execute(
            f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)", f"CREATE DATABASE {TEMPLATE}"
        )
    except Exception as exc:  # psycopg.OperationalError and friends
        if os.environ.get("FLOWJOBS_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    upgrade(_pg_url(TEMPLATE))
    return TEMPLATE


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = f"flowjobs_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield _pg_url(name)
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from flowjobs.store import upgrade

    url = f"sqlite:///{tmp_path}/flowjobs.db"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on a fresh SQLite file and a fresh PostgreSQL database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url
