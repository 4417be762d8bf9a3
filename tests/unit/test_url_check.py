"""A NUL in a URL is answered by the stack's UrlCheck, never by the fast
start path (which would pass it to the database)."""

from __future__ import annotations

from typing import Any

from flowjobs.api.fast_start import ordinary_start
from flowjobs.api.url_check import nul_in_url


def scope(path: str, query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "path": path,
        "query_string": query,
        "headers": [(b"authorization", b"Bearer s")],
    }


def test_a_nul_in_the_path_or_the_query_is_found() -> None:
    assert nul_in_url(scope("/job/start/a\x00b"))
    assert nul_in_url(scope("/job", b"rule=a%00b"))
    assert not nul_in_url(scope("/job/start/echo", b"priority=1"))
    assert not nul_in_url(scope("/job", b"rule=a%2500"))  # an escaped percent sign


def test_the_fast_path_leaves_a_start_with_a_nul_to_the_stack() -> None:
    assert ordinary_start(scope("/job/start/echo")) is not None
    assert ordinary_start(scope("/job/start/ec\x00ho")) is None
