"""What ``flowjobs serve`` hands uvicorn: the fast event loop and HTTP parser,
and no access log (docs/operations.md, "The HTTP server")."""

from __future__ import annotations

from typing import Any

import pytest
from uvicorn.loops.auto import auto_loop_factory
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from flowjobs import cli
from flowjobs.config import Settings


def test_serve_runs_uvicorn_without_an_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: Any, **options: Any) -> None:
        seen.update(options)

    monkeypatch.setattr("uvicorn.run", run)

    cli._run_uvicorn(object(), "127.0.0.1", 8000, Settings(header_timeout_seconds=3))

    assert seen["access_log"] is False
    assert seen.get("loop", "auto") == "auto"
    # uvicorn's own choice of parser, with read timeouts (api/read_timeouts.py)
    assert issubclass(seen["http"], AutoHTTPProtocol)
    assert seen["http"].header_timeout == 3


def test_uvicorn_picks_uvloop_and_httptools() -> None:
    """``auto`` means uvloop and httptools when installed (uvicorn[standard])."""
    assert AutoHTTPProtocol.__name__ == "HttpToolsProtocol"
    loop = auto_loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
