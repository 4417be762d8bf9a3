"""In-process fixtures over a real database: store, catalog and manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.events import LocalEvents
from flowjobs.manager import JobManager
from flowjobs.store import SqlStore
from support.env import Env, MakeEnv


@pytest.fixture
async def make_env(db_url: str) -> AsyncIterator[MakeEnv]:
    """Build an Env on this test's database; every store it opens is closed after."""
    stores: list[SqlStore] = []

    async def make(**overrides: Any) -> Env:
        settings = Settings(database_url=db_url, **overrides)
        store = SqlStore(db_url)
        stores.append(store)
        manager = JobManager(store, settings, LocalEvents())
        return Env(settings, store, Catalog(store, settings), manager)

    yield make
    for store in stores:
        await store.close()


@pytest.fixture
async def env(make_env: MakeEnv) -> Env:
    return await make_env()
