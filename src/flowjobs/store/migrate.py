"""Create or upgrade the schema with the Alembic migrations shipped in the package."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from flowjobs.store.sql import sync_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Percent signs in passwords would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (blocking)."""
    command.upgrade(alembic_config(database_url), revision)


@cache
def head_revision() -> str:
    """The revision the shipped migrations end at (what this version needs)."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "the package ships no migrations"
    return head
