"""The execution trace: entries, excerpts, capping with exact totals."""

from __future__ import annotations

from typing import Any

from engine_testkit import JOB, flow_of

from flowjobs.engine import EngineLimits, RunContext, Trace, compile_flow, run_flow


def test_entries_and_revision() -> None:
    trace = Trace()
    assert trace.revision == 0
    first = trace.start("a", "assign", "nodes[0]")
    assert trace.revision == 1
    entry = trace.snapshot()["entries"][0]
    assert entry["endedAt"] is None and entry["outcome"] is None
    trace.finish(first, "ok", {"x": 1})
    assert trace.revision == 2
    second = trace.start("b", "fail", "nodes[1]")
    error = {"message": "broke", "nodeId": "b", "type": "FlowFailed"}
    trace.finish(second, "error", error=error)
    trace.finish(second, "ok", 1)  # a second finish is ignored
    snapshot = trace.snapshot()
    assert snapshot["totalEntries"] == 2 and snapshot["summarised"] == {}
    a, b = snapshot["entries"]
    assert (a["nodeId"], a["type"], a["path"], a["outcome"]) == ("a", "assign", "nodes[0]", "ok")
    assert a["result"] == '{"x": 1}' and a["error"] is None
    assert a["startedAt"].endswith("Z") and a["endedAt"] >= a["startedAt"]
    assert a["durationMs"] >= 0
    assert (b["outcome"], b["result"], b["error"]) == ("error", None, error)
    snapshot["entries"][1]["error"]["message"] = "changed"  # snapshots are copies
    assert trace.snapshot()["entries"][1]["error"]["message"] == "broke"


def test_excerpts_are_cut_to_bytes() -> None:
    trace = Trace(excerpt_bytes=10)
    handle = trace.start("a", "assign", "nodes[0]")
    trace.finish(handle, "ok", "é" * 20)
    handle = trace.start("b", "assign", "nodes[1]")
    trace.finish(handle, "caught", error={"message": "x" * 50, "nodeId": "b", "type": "T"})
    handle = trace.start("c", "assign", "nodes[2]")
    trace.finish(handle, "ok", [1, 2])
    a, b, c = trace.snapshot()["entries"]
    assert a["result"] == '"' + "é" * 4 + "..."  # 1 + 4 * 2 bytes; half a character dropped
    assert b["error"]["message"] == "x" * 10 + "..."
    assert c["result"] == "[1, 2]"


def test_loop_entries_are_folded_first_with_exact_totals() -> None:
    trace = Trace(max_entries=4)
    outer = trace.start("loop", "foreach", "nodes[0]")
    for index in range(10):
        handle = trace.start("x", "assign", f"nodes[0].foreach[{index}].nodes[0]")
        trace.finish(handle, "ok" if index % 3 else "caught", index)
    trace.finish(outer, "ok", list(range(10)))
    after = trace.start("after", "assign", "nodes[1]")
    trace.finish(after, "ok", None)
    snapshot = trace.snapshot()
    assert snapshot["totalEntries"] == 12
    assert [e["path"] for e in snapshot["entries"]] == [
        "nodes[0]",
        "nodes[0].foreach[8].nodes[0]",
        "nodes[0].foreach[9].nodes[0]",
        "nodes[1]",
    ]
    summary = snapshot["summarised"]["x"]
    assert summary["count"] == 8
    assert summary["errors"] == 3  # items 0, 3 and 6 were caught errors
    assert summary["firstStartedAt"] <= summary["lastEndedAt"]
    assert len(snapshot["entries"]) + summary["count"] == snapshot["totalEntries"]


def test_other_entries_are_folded_when_no_loop_entries_are_left() -> None:
    trace = Trace(max_entries=2)
    for index in range(5):
        handle = trace.start(f"n{index % 2}", "assign", f"nodes[{index}]")
        trace.finish(handle, "ok", None)
    snapshot = trace.snapshot()
    assert [e["path"] for e in snapshot["entries"]] == ["nodes[3]", "nodes[4]"]
    assert {key: value["count"] for key, value in snapshot["summarised"].items()} == {
        "n0": 2,
        "n1": 1,
    }
    assert snapshot["totalEntries"] == 5


def test_running_entries_are_not_folded() -> None:
    trace = Trace(max_entries=1)
    first = trace.start("a", "wait", "nodes[0]")
    second = trace.start("b", "wait", "nodes[0].foreach[0].nodes[0]")
    assert len(trace.snapshot()["entries"]) == 2  # both still running
    trace.finish(second, "ok", None)
    snapshot = trace.snapshot()
    assert [e["nodeId"] for e in snapshot["entries"]] == ["a"]
    assert snapshot["summarised"]["b"]["count"] == 1
    trace.finish(first, "ok", None)
    assert trace.snapshot()["totalEntries"] == 2


def test_from_limits() -> None:
    trace = Trace.from_limits(EngineLimits(trace_max_entries=7, trace_excerpt_bytes=9))
    assert (trace.max_entries, trace.excerpt_bytes) == (7, 9)


async def test_a_long_loop_keeps_the_trace_bounded() -> None:
    flow = compile_flow(
        flow_of(
            {"id": "start", "type": "assign", "set": {"n": "0"}},
            {
                "id": "loop",
                "type": "foreach",
                "items": "[1..200]",
                "nodes": [
                    {"id": "add", "type": "assign", "set": {"n": "vars.n + loop.currentItem"}},
                    {"id": "check", "type": "wait", "seconds": "-1", "onError": {}},
                ],
            },
            {"id": "out", "type": "end", "output": "vars.n"},
        )
    )
    ctx = RunContext(None, JOB, trace=Trace(max_entries=50))
    assert await run_flow(flow, ctx) == 20100
    snapshot = ctx.trace.snapshot()
    assert len(snapshot["entries"]) == 50
    assert snapshot["totalEntries"] == 3 + 2 * 200
    kept_ids = [e["nodeId"] for e in snapshot["entries"]]
    assert kept_ids[:2] == ["start", "loop"] and kept_ids[-1] == "out"
    summarised: dict[str, Any] = snapshot["summarised"]
    assert set(summarised) == {"add", "check"}
    assert summarised["check"]["errors"] == summarised["check"]["count"]
    assert summarised["add"]["errors"] == 0
    kept = {key: kept_ids.count(key) for key in ("add", "check")}
    assert summarised["add"]["count"] + kept["add"] == 200
    assert summarised["check"]["count"] + kept["check"] == 200


async def test_handler_flows_are_traced() -> None:
    flow = compile_flow(
        {"name": "h", "handler": "engine_sample_handlers:failing"},
        handler_prefixes=["engine_sample_handlers"],
    )
    ctx = RunContext(None, JOB)
    try:
        await run_flow(flow, ctx)
    except Exception as exc:
        assert "bad input value" in str(exc)
    [entry] = ctx.trace.snapshot()["entries"]
    assert (entry["nodeId"], entry["type"], entry["outcome"]) == (
        "engine_sample_handlers:failing",
        "handler",
        "error",
    )
    assert entry["error"]["type"] == "ValueError"
