"""Issue 17 point 4, done the way it was found: jobs run by a real worker on
SQLite and PostgreSQL. A log line over ``job_log_line_max_bytes`` is stored
truncated (the job goes on); a variable, an expression's value or a job's
live data over its cap ends the job ERROR with an error type naming the
limit."""

from __future__ import annotations

import asyncio
from typing import Any

from flowjobs.domain import JobState, JobStatusCode
from flowjobs.worker import Worker
from support.env import Env, MakeEnv

CAPS = {
    "job_log_line_max_bytes": 1000,
    "max_expression_result_bytes": 200_000,
    "max_variable_bytes": 100_000,
    "max_job_data_bytes": 300_000,
}


def flow_of(alias: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": alias, "alias": alias, "nodes": list(nodes)}


LOGGER = flow_of(
    "logger",
    {
        "id": "pad",
        "type": "foreach",
        "items": "[1..50]",
        "nodes": [{"id": "say", "type": "log", "message": '$pad("", 150000, "x")'}],
    },
    {"id": "done", "type": "end", "output": '"logged"'},
)
BIG_VARIABLE = flow_of(
    "big-variable", {"id": "v", "type": "assign", "set": {"s": '$pad("", 150000, "x")'}}
)
DOUBLING = flow_of(
    "doubling",
    {
        "id": "grow",
        "type": "end",
        "output": '($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("ab", 40))',
    },
)
MANY_VARIABLES = flow_of(
    "many-variables",
    *[
        {"id": f"v{i}", "type": "assign", "set": {f"s{i}": '$pad("", 90000, "x")'}}
        for i in range(6)
    ],
)


async def run_jobs(env: Env, key: Any, aliases: list[str]) -> dict[str, Any]:
    worker = Worker(env.manager, env.settings)
    worker.start()
    try:
        started = {alias: await env.manager.start(key, alias, None, {}) for alias in aliases}
        ended: dict[str, Any] = {}
        for _ in range(400):  # bounded: 20 s
            for alias, job in started.items():
                info = await env.manager.info(key, job.id)
                if info.state in (JobState.COMPLETED, JobState.ERROR):
                    ended[alias] = info
            if len(ended) == len(started):
                return ended
            await asyncio.sleep(0.05)
        raise AssertionError(f"jobs did not end: {set(started) - set(ended)}")
    finally:
        await worker.shutdown(grace=5)


async def test_a_long_log_line_is_stored_truncated(make_env: MakeEnv) -> None:
    # The log node's results (the whole text) count against the job's live
    # data: room for 50 of them here.
    env = await make_env(**CAPS | {"max_job_data_bytes": 10_000_000})
    space, key = await env.space_with_key("s")
    await env.push(space, LOGGER)
    logger = (await run_jobs(env, key, ["logger"]))["logger"]
    assert (logger.state, logger.output) == (JobState.COMPLETED, ["logged"])
    details = await env.manager.details(key, logger.id)
    said = [line for line in details.logs if line.get("nodeId") == "say"]
    assert len(said) == 50
    assert all(len(line["message"].encode()) <= 1000 for line in said)
    assert all("job_log_line_max_bytes" in line["message"] for line in said)


async def test_memory_caps_end_jobs_with_the_limit_named(make_env: MakeEnv) -> None:
    env = await make_env(**CAPS)
    space, key = await env.space_with_key("s")
    for document in (BIG_VARIABLE, DOUBLING, MANY_VARIABLES):
        await env.push(space, document)
    ended = await run_jobs(env, key, ["big-variable", "doubling", "many-variables"])

    for alias, limit, setting in (
        ("big-variable", "LIMIT_VARIABLE_SIZE", "max_variable_bytes"),
        ("doubling", "LIMIT_EXPRESSION_RESULT_SIZE", "max_expression_result_bytes"),
        ("many-variables", "LIMIT_JOB_DATA_SIZE", "max_job_data_bytes"),
    ):
        job = ended[alias]
        assert (job.state, job.code) == (JobState.ERROR, JobStatusCode.JOB_EXECUTION_ERROR)
        assert job.error is not None and job.error["type"] == limit, (alias, job.error)
        assert setting in job.message
