"""Create or upgrade the schema with the Alembic migrations shipped in the package.

Alembic (with Mako) costs every process about 10 MB of memory and a tenth of
a second to import, and a worker or server that starts against a database
already at the newest revision never needs it: :func:`upgrade` first reads
the revision the database is at and imports Alembic only when there is
something to do; :func:`head_revision` reads the revision ids from the
migration files themselves.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from flowjobs.store.engines import sync_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Percent signs in passwords would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (blocking)."""
    if revision == "head" and current_revision(database_url) == head_revision():
        return
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None if it was never migrated, or
    cannot be read (then Alembic's own attempt says why)."""
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            query = sa.text("SELECT version_num FROM alembic_version")
            return conn.execute(query).scalar_one_or_none()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


@cache
def head_revision() -> str:
    """The revision the shipped migrations end at (what this version needs):
    the one that no other migration names as its ``down_revision``."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        names = _module_constants(path)
        if "revision" in names:
            revisions[str(names["revision"])] = names.get("down_revision")
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, f"the shipped migrations must have one head, not {sorted(heads)}"
    return heads.pop()


def _module_constants(path: Path) -> dict[str, str | None]:
    """The module-level ``name = "literal"`` assignments of a migration file."""
    found: dict[str, str | None] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and (node.value.value is None or isinstance(node.value.value, str))
        ):
            found[node.targets[0].id] = node.value.value
    return found
