"""What a running flow may use beyond its input, handed in by the caller
(the worker): the REST policy, the named SQL connections, a way to find
other flows of the same space for ``call`` nodes, and a way to solve the
space's decision tables for ``rule`` nodes.

The engine never builds these from configuration itself: it knows nothing of
settings files, the job store or HTTP servers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowjobs.engine.compiler import Flow

# (identifier: baseId or alias, version: a number or None for the latest
# published) -> the compiled flow. Raises FlowExecutionError when not found.
FlowResolver = Callable[[str, "int | None"], Awaitable["Flow"]]

# (rule: baseId or alias, version: a number or None for the latest published,
# input data, strategy) -> the Solver API's result for that input. Raises a
# FlowjobsError (rule not found, not published, not solvable, ...).
RuleSolver = Callable[[str, "int | None", Any, str], Awaitable[Any]]


@dataclass(frozen=True)
class RestPolicy:
    """Rules for the ``rest`` node. Loopback, link-local, private and other
    non-public addresses are refused unless ``allow`` names the host, the IP
    address or a CIDR range that contains it (e.g. ``"127.0.0.1"``,
    ``"10.0.0.0/8"``, ``"api.internal"``)."""

    allow: tuple[str, ...] = ()
    default_timeout: float = 30.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5


@dataclass
class EngineServices:
    rest: RestPolicy = field(default_factory=RestPolicy)
    # flowjobs.engine.sql.SqlConnections (or the SpaceConnections of the job's
    # space), or None when none are configured
    sql: Any = None
    resolve_flow: FlowResolver | None = None
    solve_rule: RuleSolver | None = None  # decision tables and rule flows for `rule` nodes
    call_depth: int = 0  # how many `call` nodes deep this run is
