"""The dashboard's pure parts: session cookies, redirects after sign-in,
chart geometry, the job timeline, and how inputs and filters are read."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.routing import Mount

from flowjobs.api.app import create_app
from flowjobs.config import Settings
from flowjobs.domain import FinishedMinute, JobState
from flowjobs.errors import BadRequestError
from flowjobs.ui import charts, formatting, views
from flowjobs.ui.session import Session, SessionCodec, csrf_matches, safe_next

NOW = datetime(2026, 11, 28, 21, 37, 12, tzinfo=UTC)


# ---- sessions ----------------------------------------------------------------------


def test_a_session_survives_its_cookie_and_nothing_else_does() -> None:
    codec = SessionCodec("secret", max_age_seconds=3600)
    session = codec.new("key-1")

    value = codec.dumps(session)

    assert codec.loads(value) == session
    assert codec.loads(value[:-2] + "xx") is None  # tampered
    assert SessionCodec("another secret", 3600).loads(value) is None
    assert codec.loads("") is None
    assert codec.loads(None) is None
    assert codec.loads("not-a-cookie") is None


def _signed_ago(seconds: int) -> str:
    """A session cookie value as the dashboard would have signed it ``seconds`` ago."""

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    serializer = URLSafeTimedSerializer(
        "secret",
        salt="flowjobs-ui-session",
        signer=Past,
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    return serializer.dumps({"c": "token", "k": "key-1"})


def test_a_session_ends_after_its_lifetime() -> None:
    codec = SessionCodec("secret", max_age_seconds=60)

    assert codec.loads(_signed_ago(30)) == Session(csrf="token", key_id="key-1")
    assert codec.loads(_signed_ago(120)) is None


def test_a_sign_in_session_has_no_key_and_every_session_a_new_token() -> None:
    codec = SessionCodec("secret", 3600)
    first, second = codec.new(), codec.new("key-1")

    assert first.key_id is None
    assert codec.loads(codec.dumps(first)) == first
    assert first.csrf != second.csrf
    assert len(first.csrf) >= 40


def test_csrf_tokens_must_be_the_sessions_own() -> None:
    session = Session(csrf="abc")

    assert csrf_matches(session, "abc")
    assert not csrf_matches(session, "abd")
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, None)
    assert not csrf_matches(None, "abc")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/jobs?state=RUNNING", "/ui/jobs?state=RUNNING"),
        (None, "/ui/"),
        ("", "/ui/"),
        ("/ui", "/ui/"),
        ("https://evil.example/ui/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/ui//evil.example", "/ui/"),
        ("/ui/\\evil", "/ui/"),
        ("/docs", "/ui/"),
        ("/ui/jobs\r\nSet-Cookie: x", "/ui/"),
    ],
)
def test_after_sign_in_only_dashboard_paths_are_followed(target: str | None, expected: str) -> None:
    assert safe_next(target, "/ui") == expected


# ---- charts ------------------------------------------------------------------------


def _minute(offset: int, finished: int, failed: int = 0, seconds: float = 1.0) -> FinishedMinute:
    start = charts.window_start(NOW, 24) + timedelta(minutes=offset)
    return FinishedMinute(start, finished, failed, finished, seconds * finished, seconds)


def test_the_window_is_24_whole_hours_ending_with_the_current_one() -> None:
    start = charts.window_start(NOW, 24)

    assert start == datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    assert start + timedelta(hours=24) > NOW


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0.0, 1.0]),
        (1, [0, 0.5, 1.0]),
        (7, [0, 2, 4, 6, 8]),
        (45, [0, 20, 40, 60]),
        (3600, [0, 1000, 2000, 3000, 4000]),
    ],
)
def test_value_ticks_are_round_and_cover_the_maximum(maximum: float, ticks: list[float]) -> None:
    assert charts.nice_ticks(maximum) == pytest.approx(ticks)


def test_count_ticks_are_whole_numbers() -> None:
    assert charts.nice_ticks(1, whole=True) == [0, 1]
    assert charts.nice_ticks(3, whole=True) == [0, 1, 2, 3]


def test_the_finished_chart_draws_steps_only_where_the_count_changes() -> None:
    buckets = [_minute(60, 3), _minute(61, 3), _minute(62, 1, failed=1)]

    chart = charts.finished_chart(buckets, NOW)

    finished, failed = chart.shapes
    assert finished.css == "series-finished"
    assert finished.d.startswith(f"M{charts.LEFT:.1f},")
    assert finished.d.count("V") == 3  # up to 3, down to 1, down to 0
    assert failed.d.count("V") == 2
    assert finished.d.endswith("Z")
    assert chart.summary == (
        "7 jobs finished in the last 24 hours, 1 of them in error; at most 3 in one minute."
    )
    assert [t.label for t in chart.x_ticks] == ["22:00", "04:00", "10:00", "16:00", "22:00"]
    assert [t.anchor for t in chart.x_ticks][::4] == ["start", "end"]


def test_a_quiet_day_is_a_flat_line_and_says_so() -> None:
    finished = charts.finished_chart([], NOW)
    durations = charts.duration_chart([], NOW)

    assert finished.shapes[0].d.count("H") == 1
    assert "0 jobs finished" in finished.summary
    assert durations.shapes == []
    assert durations.summary == "No job ran to its end in the last 24 hours."


def test_durations_are_averaged_per_hour_with_the_longest_marked() -> None:
    buckets = [_minute(0, 2, seconds=3.0), _minute(30, 1, seconds=9.0), _minute(600, 1)]

    chart = charts.duration_chart(buckets, NOW)
    hours = charts.hourly(buckets, charts.window_start(NOW, 24), 24)

    assert hours[0].average_seconds == pytest.approx(5.0)  # (3 + 3 + 9) / 3
    assert hours[0].longest_seconds == 9.0
    assert hours[1].average_seconds is None
    assert len(chart.shapes) == 4  # an average bar and a longest mark for two hours
    assert chart.shapes[0].title == "22:00: average 5.0 s"
    assert chart.shapes[1].title == "22:00: longest 9.0 s"
    assert chart.y_ticks[-1].label == "10s"
    assert "4 jobs ran" in chart.summary


# ---- views -------------------------------------------------------------------------


def test_the_timeline_places_nodes_on_one_axis() -> None:
    t0 = NOW.isoformat()
    entries = [
        {"nodeId": "a", "startedAt": t0, "endedAt": (NOW + timedelta(seconds=1)).isoformat()},
        {"nodeId": "b", "startedAt": (NOW + timedelta(seconds=1)).isoformat(), "endedAt": None},
        {"nodeId": "bad", "startedAt": "not a time"},
    ]

    bars = views.timeline(entries, NOW + timedelta(seconds=4))

    assert [b.entry["nodeId"] for b in bars] == ["a", "b"]
    assert (bars[0].x, bars[0].width) == (0, 250)
    assert (bars[1].x, bars[1].width) == (250, 750)  # still running: drawn to now
    assert bars[1].duration_ms == 3000


def test_instant_nodes_still_show_and_stay_inside_the_axis() -> None:
    start = NOW.isoformat()
    entries = [{"startedAt": start, "endedAt": start}, {"startedAt": start, "endedAt": start}]

    bars = views.timeline(entries, NOW)

    assert all(b.width >= 4 and b.x + b.width <= 1000 for b in bars)


@pytest.mark.parametrize(
    ("text", "value"),
    [("", {}), ("  ", {}), ('{"a": [1, 2]}', {"a": [1, 2]}), ("[1]", [1]), ('"x"', "x")],
)
def test_a_job_input_is_any_json_value(text: str, value: object) -> None:
    assert views.parse_input(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1,}', "Line 1, column 9"),
        ('{\n  "a": tru\n}', "Line 2, column 8"),
        ('{"a": NaN}', "NaN is not valid JSON"),
    ],
)
def test_a_bad_input_says_where(text: str, message: str) -> None:
    with pytest.raises(views.InputError, match=message):
        views.parse_input(text)


def test_filters_read_states_and_versions_strictly() -> None:
    states = views.parse_states(["running,WAITING", "", "Error"])
    assert states == frozenset({JobState.RUNNING, JobState.WAITING, JobState.ERROR})
    assert views.parse_version(" 3 ") == 3
    assert views.parse_version("") is None
    for bad in ("0", "-1", "v2", "1e3", "\uff11"):
        with pytest.raises(BadRequestError):
            views.parse_version(bad)
    with pytest.raises(BadRequestError, match="SLEEPING"):
        views.parse_states(["SLEEPING"])


def test_the_list_query_keeps_its_filters_in_links() -> None:
    query = views.ListQuery(
        frozenset({JobState.WAITING, JobState.RUNNING}), "my flow", 2, cursor="abc"
    )

    assert query.query_string() == "state=WAITING&state=RUNNING&rule=my+flow&version=2"
    assert query.query_string(cursor="next") == (
        "state=WAITING&state=RUNNING&rule=my+flow&version=2&cursor=next"
    )


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(0, "0"), (0.02, "20ms"), (0.5, "0.5s"), (12, "12s"), (300, "5m"), (7200, "2h")],
)
def test_axis_labels_are_short(seconds: float, label: str) -> None:
    assert formatting.short_seconds(seconds) == label


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.35, "350 ms"),
        (4.24, "4.2 s"),
        (185, "3 min 5 s"),
        (180, "3 min"),
        (7380, "2 h 3 min"),
        (7200, "2 h"),
    ],
)
def test_durations_read_like_a_person_would_say_them(seconds: float | None, text: str) -> None:
    assert formatting.duration(seconds) == text


# ---- wiring ------------------------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_the_dashboard_is_mounted_at_ui_unless_disabled(enabled: bool) -> None:
    app = create_app(Settings(ui_enabled=enabled), run_worker=False)  # builds nothing yet

    mounts = [r.path for r in app.routes if isinstance(r, Mount)]
    assert mounts == (["/docs-assets", "/ui"] if enabled else ["/docs-assets"])  # + /docs' files
