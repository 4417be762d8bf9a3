"""The flow engine: validates and runs integration-flow documents.

It knows nothing of HTTP, the database or job storage. Typical use::

    flow = compile_flow(load_flow_file("flow.yaml"), handler_prefixes=["myflows"])
    output = await run_flow(flow, RunContext(input_data, JobRef(job_id, corr_id, space_id)))
"""

from __future__ import annotations

from flowjobs.engine.compiler import Flow, compile_flow
from flowjobs.engine.context import RunContext
from flowjobs.engine.limits import EngineLimits, JobRef
from flowjobs.engine.loader import load_flow_file
from flowjobs.engine.nodes.base import iter_nodes
from flowjobs.engine.runner import run_flow
from flowjobs.engine.services import EngineServices, FlowResolver, RestPolicy, RuleSolver
from flowjobs.engine.sql import SqlConnections
from flowjobs.engine.trace import Trace
from flowjobs.engine.walk import called_flows, solved_rules, sql_connections_used

__all__ = [
    "EngineLimits",
    "EngineServices",
    "Flow",
    "FlowResolver",
    "JobRef",
    "RestPolicy",
    "RuleSolver",
    "RunContext",
    "SqlConnections",
    "Trace",
    "called_flows",
    "compile_flow",
    "iter_nodes",
    "load_flow_file",
    "run_flow",
    "solved_rules",
    "sql_connections_used",
]
