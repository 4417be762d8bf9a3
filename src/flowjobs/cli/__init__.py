"""The ``flowjobs`` command line. Builds the settings once and passes them down.

The typer ``app`` and ``main`` live here; the commands are in one module per
group (``common``, ``spaces``, ``rules``, ``webhooks``, ``jobs``, ``server``).
"""

from __future__ import annotations

import os
import sys

from flowjobs.cli import jobs, rules, server, spaces, webhooks
from flowjobs.cli.common import DEFAULT_DB, _explain, app, table
from flowjobs.cli.server import _run_http, demo_secret_key, parse_age, serve
from flowjobs.cli.spaces import parse_quota
from flowjobs.diagnose import diagnose
from flowjobs.serving import serve as serve_app

__all__ = [
    "_run_http",
    "app",
    "demo_secret_key",
    "jobs",
    "main",
    "parse_age",
    "parse_quota",
    "rules",
    "serve",
    "serve_app",
    "server",
    "spaces",
    "table",
    "webhooks",
]


def main() -> None:
    # Errors raised outside the commands' own handlers (the schema upgrade of
    # serve and worker, a URL SQLAlchemy cannot load) get their one line here.
    try:
        app()
    except Exception as exc:
        diagnosis = diagnose(exc, _database_url_in_use())
        if diagnosis is None:
            raise
        sys.exit(_explain(diagnosis, exc).exit_code)


def _database_url_in_use() -> str:
    """The URL the failed command used: --database-url, else the settings'."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--database-url" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--database-url="):
            return arg.split("=", 1)[1]
    return os.environ.get("FLOWJOBS_DATABASE_URL") or str(DEFAULT_DB)
