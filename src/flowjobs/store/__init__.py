"""The only code that talks to the database."""

from flowjobs.store.migrate import upgrade
from flowjobs.store.sql import SqlStore, async_url, sync_url

__all__ = ["SqlStore", "async_url", "sync_url", "upgrade"]
