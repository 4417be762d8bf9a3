"""One-line, actionable messages for the mistakes a new user or an operator
makes with the database and the configuration: what failed, the database URL
with its password redacted, and what to do.

The command line shows the line instead of a traceback (which stays
available with ``--debug``). The exceptions are recognised by their class
names and texts along the chain of causes, so this module needs neither
SQLAlchemy nor a driver: a ``StoreError`` raised ``from`` a driver's error
is seen through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from flowjobs.errors import AlreadyExistsError
from flowjobs.logs import redact

SCHEMES = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


@dataclass(frozen=True)
class Diagnosis:
    what: str  # what failed
    hint: str  # what to do

    def line(self) -> str:
        return f"error: {self.what}: {self.hint}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and the driver errors SQLAlchemy wraps."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None]
        todo += [current.__cause__, current.__context__]


def _text(exc: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))


def _scheme(url: str) -> str:
    return url.split(":", 1)[0] if ":" in url else url


def _missing_database(text: str) -> str | None:
    match = re.search(r'database "([^"]+)" does not exist', text)
    return None if match is None else match.group(1)


def diagnose(exc: BaseException, database_url: str) -> Diagnosis | None:
    """The message for a known mistake; None for anything else (a bug, say),
    which keeps its traceback."""
    url = redact(database_url)
    text = _text(exc)
    names = {type(e).__name__ for e in _chain(exc)}
    for check in (_bad_url, _unreachable, _no_schema, _duplicate):
        found = check(exc, url, text, names)
        if found is not None:
            return found
    return None


def _bad_url(_exc: BaseException, url: str, text: str, names: set[str]) -> Diagnosis | None:
    if "NoSuchModuleError" in names or "Could not parse SQLAlchemy URL" in text:
        return Diagnosis(
            f"unknown database URL scheme {_scheme(url)!r} in {url}",
            f"set FLOWJOBS_DATABASE_URL (or --database-url) to {SCHEMES}",
        )
    return None


_REFUSED = ("connection refused", "could not connect", "connection failed", "timeout expired")


def _unreachable(_exc: BaseException, url: str, text: str, _names: set[str]) -> Diagnosis | None:
    lowered = text.lower()
    database = _missing_database(text)
    if database is not None:
        return Diagnosis(
            f"the database {database!r} does not exist on the server of {url}",
            f"create it (createdb -h HOST -U USER {database}), then run: flowjobs init",
        )
    if "password authentication failed" in lowered:
        return Diagnosis(
            f"the database refused the user or password of {url}",
            "check the user and password in FLOWJOBS_DATABASE_URL",
        )
    if "unable to open database file" in lowered:
        return Diagnosis(
            f"cannot open the SQLite file of {url}",
            "check that its folder exists and is writable by this user",
        )
    if any(sign in lowered for sign in _REFUSED):
        why = "connection refused" if "refused" in lowered else "no answer"
        return Diagnosis(
            f"cannot connect to the database at {url} ({why})",
            "start PostgreSQL or correct the host and port in FLOWJOBS_DATABASE_URL "
            "(or --database-url)",
        )
    return None


_NO_TABLE = re.compile(r"no such table: \w+|relation \"\w+\" does not exist|UndefinedTable")


def _no_schema(_exc: BaseException, url: str, text: str, _names: set[str]) -> Diagnosis | None:
    if _NO_TABLE.search(text):
        return Diagnosis(
            f"the database at {url} has no flowjobs schema (or an old one)",
            "run: flowjobs init (with the same FLOWJOBS_DATABASE_URL or --database-url)",
        )
    return None


def _duplicate(exc: BaseException, _url: str, _text: str, _names: set[str]) -> Diagnosis | None:
    if not isinstance(exc, AlreadyExistsError):
        return None
    if exc.message.startswith("a space"):
        return Diagnosis(exc.message, "choose another name, or use it (flowjobs space list)")
    return Diagnosis(exc.message, "choose another name")
