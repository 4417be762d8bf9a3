"""Job ids are version 7 UUIDs: time-ordered, monotonic within a process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from flowjobs.ids import _MonotonicClock, is_uuid, job_id_at, new_job_id, unix_ms_of, uuid7


def test_uuid7_sets_version_variant_and_fields() -> None:
    value = uuid7(0x0189_ABCD_EF01, 0xABC, (1 << 62) - 1)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert str(value) == "0189abcd-ef01-7abc-bfff-ffffffffffff"


@pytest.mark.parametrize(
    ("unix_ms", "rand_a", "rand_b"), [(-1, 0, 0), (1 << 48, 0, 0), (0, 1 << 12, 0), (0, 0, 1 << 62)]
)
def test_uuid7_refuses_fields_wider_than_their_bits(unix_ms: int, rand_a: int, rand_b: int) -> None:
    with pytest.raises(ValueError):
        uuid7(unix_ms, rand_a, rand_b)


def test_new_job_id_is_a_canonical_uuid_string_the_api_accepts() -> None:
    job_id = new_job_id()
    assert is_uuid(job_id)
    assert job_id == str(uuid.UUID(job_id))  # lower-case 8-4-4-4-12
    assert uuid.UUID(job_id).version == 7


def test_new_job_ids_sort_in_the_order_they_were_made() -> None:
    made = [new_job_id() for _ in range(5000)]  # several share a millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_clock_counts_up_within_a_millisecond_and_borrows_the_next_when_full() -> None:
    clock = _MonotonicClock()
    pairs = [clock.next(1000) for _ in range(5000)]  # more than 4096 in one ms
    assert pairs == sorted(pairs)
    assert len(set(pairs)) == len(pairs)
    assert pairs[0][0] == 1000
    assert pairs[-1][0] > 1000


def test_clock_stepping_back_does_not_make_an_earlier_id() -> None:
    clock = _MonotonicClock()
    later = clock.next(2000)
    assert clock.next(1500) > later


def test_job_id_at_carries_the_moment_so_ids_follow_created_at() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    job_id = job_id_at(moment)
    assert unix_ms_of(job_id) == int(moment.timestamp() * 1000)
    earlier = job_id_at(datetime(2026, 1, 2, 3, 4, 5, 677000, tzinfo=UTC))
    assert earlier < job_id
