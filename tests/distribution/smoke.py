"""The demo's smoke test, run against a running ``flowjobs demo`` with the
Python client only (so it also proves that an install of the client works):
a job completes, a bad order fails with its message, a long job is canceled
while it runs, and /docs is served with its own assets.

    FLOWJOBS_URL=http://127.0.0.1:8000 FLOWJOBS_KEY=fjs_... python smoke.py

Standard library and ``flowjobs.client`` only; exit code 0 when all passed.
"""

from __future__ import annotations

import sys
import time

import httpx

from flowjobs.client import JobsClient
from flowjobs.domain import JobState


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        raise SystemExit(1)


def main() -> None:
    with JobsClient(timeout=10) as jobs:
        started = jobs.start("sleepy-echo", {"name": "Ada"})
        done = jobs.wait(started.jobId, timeout=60)
        check(done.status.state is JobState.COMPLETED, "sleepy-echo completed")
        check(done.output == [{"echo": {"name": "Ada"}, "greeting": "Hello Ada"}], "its output")

        failed = jobs.wait(jobs.start("order-check", {"orderId": "A1", "items": []}).jobId, 60)
        check(failed.status.state is JobState.ERROR, "order-check without items failed")
        check("no items" in failed.model_dump_json(), "with its message")

        slow = jobs.start("slow-report", {"seconds": 60})
        deadline = time.monotonic() + 30
        while jobs.info(slow.jobId).status.state is not JobState.RUNNING:
            check(time.monotonic() < deadline, "slow-report started running")
            time.sleep(0.1)
        jobs.cancel(slow.jobId)
        canceled = jobs.wait(slow.jobId, timeout=30)
        check(canceled.status.state is JobState.CANCELED, "slow-report canceled while running")

        listed = jobs.list(limit=10)
        check(len(listed.jobs) >= 3, "the jobs are listed")

    base = str(jobs._http.base_url).rstrip("/")
    docs = httpx.get(f"{base}/docs", timeout=10)
    asset = httpx.get(f"{base}/docs-assets/swagger-ui-bundle.js", timeout=10)
    check(docs.status_code == 200 and asset.status_code == 200, "/docs and its assets")
    print("smoke test passed")


if __name__ == "__main__":
    sys.exit(main())
