"""Logging set-up: a short message plus structured fields, as JSON lines
(``FLOWJOBS_LOG_FORMAT=json``) or plain text.

Callers pass data in ``extra`` (``action``, ``jobId``, ``worker`` ...), never
inside the message text, so that logs can be filtered and counted. Code that
runs one job binds it with :func:`job_context`: every line logged inside (by
the worker, the engine, the store) then carries ``jobId`` and
``correlationId`` without each call naming them. Lines are scrubbed of API key
secrets and URL passwords before they are written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_JOB: ContextVar[dict[str, str] | None] = ContextVar("flowjobs_job", default=None)
# API key secrets (fjs_/fjm_ + random) and the password part of URLs, each
# with the literal text a match must contain: most lines contain neither, and
# a substring test is about a hundred times cheaper than the URL pattern's
# scan (which was two thirds of the cost of writing a worker's per-job line).
_SECRETS = (
    (("fjs_", "fjm_"), re.compile(r"\b(fj[sm]_)[A-Za-z0-9_-]{8,}"), r"\1[redacted]"),
    (
        ("://",),
        re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE),
        r"\1[redacted]@",
    ),
)


def job_fields(job_id: str, correlation_id: str) -> dict[str, str]:
    """The fields every log line about a job carries."""
    return {"jobId": job_id, "correlationId": correlation_id}


@contextmanager
def job_context(job_id: str, correlation_id: str) -> Iterator[None]:
    """Tag every line logged inside (in this task and tasks it starts) with the job."""
    token = _JOB.set(job_fields(job_id, correlation_id))
    try:
        yield
    finally:
        _JOB.reset(token)


def redact(text: str) -> str:
    for needles, pattern, replacement in _SECRETS:
        if any(needle in text for needle in needles):
            text = pattern.sub(replacement, text)
    return text


class JobContextFilter(logging.Filter):
    """Adds the bound job's ``jobId`` and ``correlationId`` to a record that
    does not name them itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _JOB.get()
        if fields:
            for name, value in fields.items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()} {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line.rstrip())


def setup_logging(level: str = "INFO", *, as_json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    handler.addFilter(JobContextFilter())
    root = logging.getLogger("flowjobs")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
