"""``flowjobs key revoke`` on PostgreSQL: two API processes both refuse the key
within a second of the command, and keep serving the keys not revoked.

Holds with or without a per-process key cache, as long as its time to live
(FLOWJOBS_KEY_CACHE_SECONDS) stays under a second.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from support.cluster import Cluster
from support.processes import flowjobs

REVOCATION_DEADLINE = 1.0  # seconds, from the end of `flowjobs key revoke`
POLL_EVERY = 0.05


def cli(url: str, *args: str, exit_code: int = 0) -> Any:
    """One ``flowjobs`` command in this process (a subprocess costs seconds of CPU)."""
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args])
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout) if exit_code == 0 else result.output


def _status(http: httpx.Client, base_url: str, key: str) -> int:
    answer = http.get(f"{base_url}/job", headers={"Authorization": f"Bearer {key}"})
    return answer.status_code


def _seconds_until_refused(http: httpx.Client, base_url: str, key: str, since: float) -> float:
    """Poll every 50 ms (bounded) until the server answers 401 for ``key``."""
    for _ in range(int(3 * REVOCATION_DEADLINE / POLL_EVERY)):
        if _status(http, base_url, key) == 401:
            return time.monotonic() - since
        time.sleep(POLL_EVERY)
    raise AssertionError(f"{base_url} still accepts the revoked key")


def test_a_revoked_key_is_refused_by_every_process_within_a_second(
    pg_url: str, tmp_path: Path
) -> None:
    cli(pg_url, "space", "create", "revoke", "--json")
    kept = cli(pg_url, "key", "create", "--space", "revoke", "--json")
    doomed = cli(pg_url, "key", "create", "--space", "revoke", "--json")
    with Cluster(pg_url, tmp_path) as cluster, httpx.Client(timeout=5) as http:
        cluster.spawn_apis("api0", "api1")
        cluster.ready()
        for base_url in cluster.base_urls:  # warm: any cache now holds the key
            assert _status(http, base_url, doomed["key"]) == 200

        flowjobs(pg_url, "key", "revoke", doomed["id"], "--json")  # the real command
        revoked_at = time.monotonic()

        delays = [
            _seconds_until_refused(http, url, doomed["key"], revoked_at)
            for url in cluster.base_urls
        ]
        assert max(delays) <= REVOCATION_DEADLINE, delays
        for base_url in cluster.base_urls:
            assert _status(http, base_url, kept["key"]) == 200


def test_revoking_is_idempotent_and_an_unknown_id_is_an_error(pg_url: str) -> None:
    cli(pg_url, "space", "create", "again", "--json")
    created = cli(pg_url, "key", "create", "--space", "again", "--json")
    cli(pg_url, "key", "revoke", created["id"], "--json")
    first = cli(pg_url, "key", "list", "--space", "again", "--json")["keys"]
    assert cli(pg_url, "key", "revoke", created["id"], "--json")["revoked"] is True
    second = cli(pg_url, "key", "list", "--space", "again", "--json")["keys"]
    assert first == second  # revokedAt keeps the first revocation
    assert second[0]["id"] == created["id"] and second[0]["revokedAt"] is not None
    assert "No API key with id" in cli(pg_url, "key", "revoke", "no-such-key", exit_code=1)
