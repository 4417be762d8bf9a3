"""The Solver fast path splits its paths by hand: the same routes and
parameters as Starlette's router would find."""

from __future__ import annotations

import pytest
from starlette.routing import Match

from flowjobs.api.fast_solve import FastSolves

PATHS = [
    "/rule/solve/test",
    "/rule/solve/test/",
    "/rule/solve/test/2",
    "/rule/solve/test/latest",
    "/rule/solve/a b/x",
    "/rule/solve/",
    "/rule/solve//1",
    "/rule/solve/test/1/",
    "/rule/solve/test/1/2",
    "/rule/solvetest",
    "/job/start/test",
]


@pytest.mark.parametrize("path", PATHS)
def test_the_hand_split_matches_the_router(path: str) -> None:
    fast = FastSolves()
    routed = None
    for route in fast.routes:
        scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
        match, child = route.matches(scope)
        if match is Match.FULL:
            routed = (route, child["path_params"])
            break
    assert fast._match(path) == routed
