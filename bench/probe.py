"""A job's code tells the bench, over UDP on 127.0.0.1, when it starts or stops.

Every system's bench task (a flowjobs handler, a procrastinate or pgqueuer
task, a Celery task, an RQ function) calls :func:`send` with the tag it was
given and the moment (``time.monotonic()``, the machine-wide CLOCK_MONOTONIC
on Linux, so comparable across processes). The bench reads them with a
:class:`Receiver`. The address comes from ``BENCH_PROBE_ADDR`` (host:port),
set by the bench in the environment of every process it starts.
"""

from __future__ import annotations

import os
import socket
import time

ADDRESS_ENV = "BENCH_PROBE_ADDR"
_sock: socket.socket | None = None


def send(tag: str, event: str) -> None:
    """Report ``event`` ("start" or "stop") of the job tagged ``tag``, now."""
    global _sock
    address = os.environ.get(ADDRESS_ENV)
    if not address or not tag:
        return
    host, port = address.rsplit(":", 1)
    if _sock is None:
        _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _sock.sendto(f"{tag} {event} {time.monotonic():.9f}".encode(), (host, int(port)))


class Receiver:
    """A UDP socket on 127.0.0.1 that collects ``(tag, event) -> monotonic time``."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: dict[tuple[str, str], float] = {}

    def close(self) -> None:
        self.sock.close()

    def clear(self) -> None:
        self.drain(0)
        self.seen.clear()

    def drain(self, timeout: float) -> None:
        """Reads every datagram that arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for _ in range(1_000_000):
            remaining = deadline - time.monotonic()
            self.sock.settimeout(max(remaining, 0.0))  # 0: non-blocking
            try:
                self._record(self.sock.recv(512))
            except (BlockingIOError, TimeoutError):
                return

    def _record(self, data: bytes) -> None:
        tag, event, moment = data.decode().split()
        self.seen[(tag, event)] = float(moment)

    def wait_for(self, tag: str, event: str, timeout: float = 10.0) -> float:
        """The moment the job tagged ``tag`` reported ``event``; waits up to ``timeout``."""
        deadline = time.monotonic() + timeout
        for _ in range(100_000):
            if (tag, event) in self.seen:
                return self.seen[(tag, event)]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(remaining)
            try:
                self._record(self.sock.recv(512))
            except TimeoutError:
                break
        raise TimeoutError(f"no {event!r} from job {tag} within {timeout} s")
