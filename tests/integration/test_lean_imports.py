"""A worker or server started against a database at the newest revision
imports neither Alembic nor cryptography (about 17 MB of memory each process
would otherwise hold for nothing), and still migrates a database that needs it."""

from __future__ import annotations

import subprocess
import sys

from flowjobs.store import head_revision
from flowjobs.store.migrate import current_revision

PROBE = """
import sys
from flowjobs.store import upgrade
import flowjobs.cli, flowjobs.runtime, flowjobs.worker.loop, flowjobs.api.app
upgrade(sys.argv[1])
print(",".join(m for m in ("alembic", "cryptography") if m in sys.modules))
"""


def _modules_after_upgrade(db_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, db_url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_database_at_head_needs_no_alembic(db_url: str) -> None:
    assert current_revision(db_url) == head_revision()
    assert _modules_after_upgrade(db_url) == ""


def test_a_new_database_is_still_migrated(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/new.db"
    assert current_revision(url) is None
    assert _modules_after_upgrade(url) == "alembic"
    assert current_revision(url) == head_revision()
