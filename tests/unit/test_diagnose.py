"""diagnose() reads a chain of exceptions (a StoreError raised from the
driver's error, as the store raises them) into one line with a hint; the
real processes are tested in tests/integration/test_cli_errors.py."""

from __future__ import annotations

import pytest

from flowjobs.diagnose import diagnose
from flowjobs.errors import AlreadyExistsError, StoreError

URL = "postgresql://app:hunter2@127.0.0.1:5432/jobs"


class OperationalError(Exception):
    """Named like the drivers' and SQLAlchemy's."""


def store_error_from(driver_text: str) -> StoreError:
    try:
        try:
            raise OperationalError(driver_text)
        except OperationalError as exc:
            raise StoreError("database error: OperationalError") from exc
    except StoreError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("driver_text", "what", "hint"),
    [
        ("connection refused", "cannot connect to the database", "start PostgreSQL"),
        ("timeout expired", "(no answer)", "correct the host and port"),
        ('FATAL: database "jobs" does not exist', "'jobs' does not exist", "createdb"),
        ("password authentication failed for user", "refused the user or password", "check"),
        ("unable to open database file", "cannot open the SQLite file", "folder exists"),
        ("no such table: spaces", "has no flowjobs schema", "run: flowjobs init"),
        ('relation "spaces" does not exist', "has no flowjobs schema", "run: flowjobs init"),
    ],
)
def test_driver_errors_become_one_line_with_a_hint(driver_text: str, what: str, hint: str) -> None:
    found = diagnose(store_error_from(driver_text), URL)

    assert found is not None
    line = found.line()
    assert what in line and hint in line
    assert "hunter2" not in line and "\n" not in line


def test_an_unknown_scheme_and_a_duplicate() -> None:
    class NoSuchModuleError(Exception):
        pass

    scheme = diagnose(NoSuchModuleError("Can't load plugin"), "postgress://x@h/db")
    duplicate = diagnose(AlreadyExistsError("a space named 'acme' already exists"), URL)

    assert scheme is not None and "unknown database URL scheme 'postgress'" in scheme.line()
    assert duplicate is not None and duplicate.line().startswith("error: a space named 'acme'")


def test_anything_else_is_left_to_its_traceback() -> None:
    assert diagnose(ValueError("a bug"), URL) is None
    assert diagnose(store_error_from("deadlock detected"), URL) is None
