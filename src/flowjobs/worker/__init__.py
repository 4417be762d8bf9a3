"""The worker: claims jobs, runs their flows, records what they do, and
shuts down without losing any."""

from flowjobs.worker.loop import Worker, new_worker_id

__all__ = ["Worker", "new_worker_id"]
