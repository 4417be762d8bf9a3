"""The only code that talks to the database."""

from flowjobs.store.migrate import head_revision, upgrade
from flowjobs.store.protocol import Store
from flowjobs.store.sql import SqlStore, async_url, sync_url

__all__ = ["SqlStore", "Store", "async_url", "head_revision", "sync_url", "upgrade"]
