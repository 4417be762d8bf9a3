"""An ASGI app over HTTP for ``flowjobs serve``, ``demo`` and ``worker
--metrics-port``: the listening socket (bound before anything is printed, so
a busy port is one clear line and nothing else), uvicorn's settings, the
start-up and shutdown lines, and the access log.

The app is handed in: this module imports neither the API nor the store.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any

from flowjobs import __version__

log = logging.getLogger("flowjobs.serve")
ACCESS_LOGGER = "uvicorn.access"


class ListenError(Exception):
    """The address cannot be listened on; the message is the one line to show."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``; uvicorn listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(_listen_problem(host, port, exc)) from exc
    sock.set_inheritable(True)
    return sock


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the address is already in use: stop the process "
            "that uses it, or pick another --port"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied: use a port above 1023"
    return f"cannot listen on {where}: {exc.strerror or exc}: check --host and --port"


@dataclass(frozen=True)
class StartLine:
    """What a serving process says once it listens (or, a worker, once it runs)."""

    mode: str  # "API and embedded worker", "API only", "worker", ...
    database: str  # redacted
    concurrency: int | None  # jobs at once; None: runs no jobs
    url: str | None = None  # None: no HTTP
    access_log: bool | None = None

    def log(self) -> None:
        where = f"listening on {self.url}" if self.url else "running"
        runs = "" if self.concurrency is None else f", concurrency {self.concurrency}"
        access = "" if self.access_log is None else f", access log {_on(self.access_log)}"
        log.info(
            f"flowjobs {__version__} {where}: {self.mode}{runs}, database {self.database}{access}",
            extra={
                "action": "listen",
                "version": __version__,
                "url": self.url,
                "mode": self.mode,
                "concurrency": self.concurrency,
                "database": self.database,
                "accessLog": self.access_log,
            },
        )


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def log_stopped(mode: str, started: float) -> None:
    """The process's last line (the worker's own line before it says what
    its jobs did at shutdown)."""
    seconds = round(time.monotonic() - started, 1)
    log.info(
        f"flowjobs {mode} stopped after {seconds:g} s",
        extra={"action": "stopped", "mode": mode, "uptimeSeconds": seconds},
    )


def _route_access_log(on: bool) -> None:
    """uvicorn's access lines through flowjobs' own handler and format."""
    access = logging.getLogger(ACCESS_LOGGER)
    access.handlers[:] = logging.getLogger("flowjobs").handlers if on else []
    access.setLevel(logging.INFO)
    access.propagate = False
    access.disabled = not on


def serve(app: Any, sock: socket.socket, line: StartLine, *, http: Any = "auto") -> None:
    """Serve ``app`` on the bound socket until SIGINT or SIGTERM, with the
    start-up line first and the shutdown line last; ``http`` is uvicorn's
    HTTP protocol (a class, e.g. one with read timeouts, or ``"auto"``)."""
    import uvicorn

    class Server(uvicorn.Server):
        # uvicorn raises the signal it caught again once it has stopped, which
        # ends the process: the last line is written at the end of its shutdown
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            log_stopped(line.mode, started)

    access_log = bool(line.access_log)
    _route_access_log(access_log)
    server = Server(uvicorn_config(app, access_log=access_log, http=http))
    started = time.monotonic()
    line.log()
    server.run(sockets=[sock])


def uvicorn_config(app: Any, *, access_log: bool, http: Any = "auto") -> Any:
    """uvloop and httptools (``auto``, from uvicorn[standard]); flowjobs'
    logging, not uvicorn's; open requests get 5 s at shutdown."""
    import uvicorn

    return uvicorn.Config(
        app,
        access_log=access_log,
        log_config=None,
        timeout_graceful_shutdown=5,
        http=http,
    )
