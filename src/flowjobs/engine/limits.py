"""Plain value objects shared by the engine: resource limits and the job reference."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineLimits:
    """Bounds on what one flow run may use. Each one, when passed, fails the
    job with a message naming the limit, never the process."""

    expression_timeout_ms: int = 1000  # one JSONata evaluation
    expression_max_depth: int = 100  # JSONata recursion depth
    max_nodes: int = 150  # nodes in one flow document, nested ones included
    max_foreach_items: int = 100_000  # iterations of one foreach
    max_parallel: int = 64  # the largest `parallel:` a foreach may ask for
    max_call_depth: int = 5  # flows calling flows
    trace_max_entries: int = 500  # trace entries kept per job (older loop rounds summarised)
    trace_excerpt_bytes: int = 500  # size of a result or error excerpt in the trace
    max_output_bytes: int = 16 * 1024 * 1024  # the flow's output, serialised as JSON
    max_string_length: int = 100_000  # one string in a flow document (characters)
    max_array_length: int = 10_000  # one array in a flow document (items)
    # Memory of a run (approximate JSON sizes; Python objects take more):
    max_expression_result_bytes: int = 16 * 1024 * 1024  # one expression's value
    max_variable_bytes: int = 16 * 1024 * 1024  # one flow variable's value
    max_job_data_bytes: int = 64 * 1024 * 1024  # all variables and node results of a run


@dataclass(frozen=True)
class JobRef:
    """The job a flow runs for, as expressions see it under ``job``."""

    job_id: str
    correlation_id: str
    space_id: str

    def as_scope(self) -> dict[str, str]:
        return {
            "jobId": self.job_id,
            "correlationId": self.correlation_id,
            "spaceId": self.space_id,
        }
