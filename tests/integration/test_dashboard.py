"""The dashboard's sessions, CSRF checks and forms, over HTTP in process
(httpx on the ASGI app, the app's real lifespan, a real database); and the
per-minute query behind its charts. Browser tests are in tests/e2e."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from flowjobs import domain
from flowjobs.api.app import create_app
from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import ApiKey, JobState, KeyKind, NewJob, Space
from flowjobs.events import LocalEvents
from flowjobs.manager import JobManager
from flowjobs.schemas import WebhookCreate
from flowjobs.store import SqlStore
from flowjobs.store.tables import api_keys
from flowjobs.webhooks.crypto import new_key
from support.env import Env, MakeEnv, flow

DEMO_TABLE = Path(__file__).parents[2] / "src" / "flowjobs" / "demo_flows" / "shipping-price.yaml"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HTML = {"Accept": "text/html"}


@dataclass
class Dashboard:
    app: FastAPI
    http: httpx.AsyncClient
    env: Env
    space: Space
    solver: str  # secrets
    management: str
    management_key: ApiKey

    async def csrf(self, path: str = "/ui/login") -> str:
        page = await self.http.get(path, headers=HTML)
        found = CSRF.search(page.text)
        assert found, page.text
        return found.group(1)

    async def sign_in(self, secret: str | None = None) -> httpx.Response:
        token = await self.csrf()
        return await self.http.post(
            "/ui/login",
            data={"csrf": token, "key": secret or self.management, "next": "/ui/jobs"},
            headers=HTML,
        )


async def _dashboard(env: Env, base_url: str) -> AsyncIterator[Dashboard]:
    space, _ = await env.space_with_key("ui", parallel_limit=1)
    solver = await env.catalog.create_key(space.id, KeyKind.SOLVER, "ui solver")
    management = await env.catalog.create_key(space.id, KeyKind.MANAGEMENT, "ui admin")
    await env.push(space, flow("nap", seconds=30))
    app = create_app(env.settings, run_worker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http,
    ):
        yield Dashboard(app, http, env, space, solver.secret, management.secret, management.key)


@pytest.fixture
async def ui(sqlite_url: str) -> AsyncIterator[Dashboard]:
    """The dashboard over SQLite: sessions and forms do not depend on the
    database (the queries they use run on both in the tests at the end)."""
    store = SqlStore(sqlite_url)
    settings = Settings(
        database_url=sqlite_url,
        ui_secret="test-secret",
        secret_key=new_key(),  # webhooks need it
        webhook_allow=["127.0.0.1"],
    )
    env = Env(settings, store, Catalog(store, settings), JobManager(store, settings, LocalEvents()))
    try:
        async for dashboard in _dashboard(env, "http://testserver"):
            yield dashboard
    finally:
        await store.close()


def _set_cookie(response: httpx.Response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(cookies) == 1, cookies
    return cookies[0]


async def test_sign_in_with_a_management_key_sets_a_signed_strict_cookie(ui: Dashboard) -> None:
    response = await ui.sign_in()

    assert response.status_code == 303
    assert response.headers["location"] == "/ui/jobs"
    cookie = _set_cookie(response)
    assert cookie.startswith("flowjobs_ui=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    assert ui.management not in cookie  # a signed key id, never the secret
    jobs = await ui.http.get("/ui/jobs", headers=HTML)
    assert jobs.status_code == 200
    assert "<h1>Jobs</h1>" in jobs.text
    assert ui.space.name in jobs.text
    assert "no-store" in jobs.headers["cache-control"]
    assert "frame-ancestors 'none'" in jobs.headers["content-security-policy"]


async def test_the_cookie_is_secure_over_https(ui: Dashboard) -> None:
    transport = httpx.ASGITransport(app=ui.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as https:
        ui.http = https
        response = await ui.sign_in()
    assert response.status_code == 303
    assert "Secure" in _set_cookie(response)


async def test_a_solver_key_or_an_unknown_key_cannot_sign_in(ui: Dashboard) -> None:
    solver = await ui.sign_in(ui.solver)
    assert solver.status_code == 403
    assert "Solver key" in solver.text
    assert 'role="alert"' in solver.text

    unknown = await ui.sign_in("fjm_not-a-key")
    assert unknown.status_code == 401
    assert "not valid" in unknown.text

    # neither left a signed-in session behind
    jobs = await ui.http.get("/ui/jobs", headers=HTML)
    assert jobs.status_code == 303
    assert jobs.headers["location"] == "/ui/login?next=/ui/jobs"


async def test_pages_need_a_session_and_refreshes_say_401(ui: Dashboard) -> None:
    page = await ui.http.get("/ui/flows/nap?version=1", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=/ui/flows/nap%3Fversion%3D1"

    fragment = await ui.http.get("/ui/jobs/rows", headers=HTML | {"X-Flowjobs-Live": "1"})
    assert fragment.status_code == 401
    assert fragment.headers["content-type"].startswith("application/problem+json")
    assert fragment.json()["code"] == "SIGN_IN_REQUIRED"


async def _start_job(ui: Dashboard, input_text: str) -> httpx.Response:
    token = await ui.csrf("/ui/flows/nap")
    return await ui.http.post(
        "/ui/flows/nap/start", data={"csrf": token, "input": input_text, "version": "1"}
    )


async def test_every_post_without_the_sessions_token_answers_403(ui: Dashboard) -> None:
    assert (await ui.sign_in()).status_code == 303
    started = await _start_job(ui, '{"n": 1}')
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[1]
    transport = httpx.ASGITransport(app=ui.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        foreign = CSRF.search((await other.get("/ui/login", headers=HTML)).text)
    assert foreign is not None
    foreign_token = foreign.group(1)  # a real token, of another visitor's session

    for path in (f"/ui/jobs/{job_id}/cancel", "/ui/jobs/cancel-all", "/ui/logout", "/ui/login"):
        for data in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": foreign_token}):
            response = await ui.http.post(path, data=data)
            assert response.status_code == 403, (path, data, response.text)
            assert response.json()["code"] == "CSRF_TOKEN_INVALID"
    not_a_form = await ui.http.post(f"/ui/jobs/{job_id}/cancel", json={"csrf": foreign_token})
    assert not_a_form.status_code == 403

    job = await ui.env.manager.info(ui.management_key, job_id)
    assert job.state is JobState.WAITING  # nothing above canceled it


async def test_cancel_from_the_dashboard_goes_back_to_the_list(ui: Dashboard) -> None:
    await ui.sign_in()
    started = await _start_job(ui, "{}")
    job_id = started.headers["location"].rsplit("/", 1)[1]
    token = await ui.csrf(f"/ui/jobs/{job_id}")

    response = await ui.http.post(
        f"/ui/jobs/{job_id}/cancel", data={"csrf": token, "back": "/ui/jobs?state=CANCELED"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/ui/jobs?state=CANCELED"
    job = await ui.env.manager.info(ui.management_key, job_id)
    assert job.state is JobState.CANCELED
    listed = await ui.http.get("/ui/jobs?state=CANCELED", headers=HTML)
    assert job_id in listed.text
    # a redirect target outside the dashboard is never followed
    again = await ui.http.post(
        f"/ui/jobs/{job_id}/cancel", data={"csrf": token, "back": "https://evil.example/"}
    )
    assert again.headers["location"] == "/ui/"


@pytest.fixture
async def ui_on_both(make_env: MakeEnv) -> AsyncIterator[Dashboard]:
    """The dashboard on SQLite and on PostgreSQL."""
    env = await make_env(ui_secret="test-secret")
    async for dashboard in _dashboard(env, "http://testserver"):
        yield dashboard


async def test_a_job_page_shows_webhook_deliveries_and_reruns_the_job(ui: Dashboard) -> None:
    await ui.sign_in()
    started = await _start_job(ui, '{"n": 7}')
    job_id = started.headers["location"].rsplit("/", 1)[1]
    page = await ui.http.get(f"/ui/jobs/{job_id}", headers=HTML)
    assert "Webhook deliveries" not in page.text  # the space has no webhook
    assert "Rerun" not in page.text  # a waiting job is canceled, not rerun
    services = ui.app.state.flowjobs
    spec = WebhookCreate(url="http://127.0.0.1:9/hook", alias="ops-hook", events=["JOB.CANCELED"])
    await services.webhooks.create(ui.space.id, spec)
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    await ui.http.post(f"/ui/jobs/{job_id}/cancel", data={"csrf": token})

    page = await ui.http.get(f"/ui/jobs/{job_id}", headers=HTML)

    section = page.text.split('id="deliveries-title"', 1)[1]
    assert "ops-hook" in section and "JOB.CANCELED" in section and "PENDING" in section
    rerun = await ui.http.post(f"/ui/jobs/{job_id}/rerun", data={"csrf": token})
    assert rerun.status_code == 303
    new_id = rerun.headers["location"].rsplit("/", 1)[1]
    assert new_id != job_id
    new_job = await ui.env.manager.info(ui.management_key, new_id)
    assert (new_job.rerun_of, new_job.input) == (job_id, {"n": 7})
    new_page = await ui.http.get(f"/ui/jobs/{new_id}", headers=HTML)
    assert f'href="/ui/jobs/{job_id}"' in new_page.text.split("Rerun of", 1)[1]


async def test_a_version_without_a_flow_is_explained_not_refused(ui: Dashboard) -> None:
    await ui.sign_in()
    page = await ui.http.get("/ui/jobs?version=2", headers=HTML)
    assert page.status_code == 200
    assert "A version filters the jobs of one flow" in page.text


async def test_a_decision_table_is_shown_as_a_read_only_grid(ui: Dashboard) -> None:
    table = yaml.safe_load(DEMO_TABLE.read_text())
    await ui.env.push(ui.space, table)
    await ui.sign_in()
    page = await ui.http.get("/ui/flows/shipping-price", headers=HTML)
    assert page.status_code == 200
    assert 'aria-labelledby="grid-title"' in page.text
    assert "IN CZ, SK" in page.text and "8 + {weight} * 0.5" in page.text
    assert "<form" not in page.text.split('id="grid-title"')[1].split("</section>")[0]


async def test_a_revoked_key_ends_the_session(ui_on_both: Dashboard) -> None:
    ui = ui_on_both
    await ui.sign_in()
    assert (await ui.http.get("/ui/", headers=HTML)).status_code == 200

    async with ui.env.store.db.engine.begin() as conn:  # what revoking a key does to its row
        await conn.execute(
            api_keys.update()
            .where(api_keys.c.id == ui.management_key.id)
            .values(revoked_at=datetime.now(UTC))
        )

    after = await ui.http.get("/ui/", headers=HTML)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/ui/login")


async def test_sign_out_ends_the_session(ui: Dashboard) -> None:
    await ui.sign_in()
    token = await ui.csrf("/ui/")
    response = await ui.http.post("/ui/logout", data={"csrf": token})
    assert response.status_code == 303
    assert (await ui.http.get("/ui/", headers=HTML)).status_code == 303


async def test_a_bad_json_input_is_shown_next_to_the_form(ui: Dashboard) -> None:
    await ui.sign_in()

    response = await _start_job(ui, '{"name": "Ada",}')

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text
    assert "Line 1, column 16" in response.text
    assert "{&#34;name&#34;: &#34;Ada&#34;,}" in response.text  # the text as typed, escaped
    jobs = await ui.env.manager.job_counts(ui.space.id)
    assert sum(jobs.values()) == 0


async def test_the_overview_shows_jobs_per_state_charts_and_usage(ui: Dashboard) -> None:
    await ui.env.catalog.update_space_billing(ui.space.id, quota_seconds=90)
    await ui.sign_in()
    await _start_job(ui, "{}")

    page = await ui.http.get("/ui/", headers=HTML)

    assert page.status_code == 200
    assert '<a href="/ui/jobs?state=WAITING">' in page.text
    waiting = page.text.split('href="/ui/jobs?state=WAITING">', 1)[1]
    assert '<span class="count__number">1</span>' in waiting.split("</a>", 1)[0]
    assert page.text.count('role="img"') == 2
    assert "0 jobs finished in the last 24 hours" in page.text
    assert "0 ms of 1 min 30 s of execution time used" in page.text
    assert "no job starts once the quota is used up" in page.text


async def test_unknown_pages_and_other_spaces_jobs_are_not_found(ui: Dashboard) -> None:
    other_space, other_key = await ui.env.space_with_key("elsewhere")
    await ui.env.push(other_space, flow("theirs"))
    theirs = await ui.env.manager.start(other_key, "theirs", None, {})
    await ui.sign_in()

    for path in (f"/ui/jobs/{theirs.id}", "/ui/jobs/not-a-uuid", "/ui/flows/theirs", "/ui/nope"):
        page = await ui.http.get(path, headers=HTML)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        problem = await ui.http.get(path)
        assert problem.status_code == 404
        assert problem.headers["content-type"].startswith("application/problem+json")
    bad = await ui.http.get("/ui/jobs?state=SLEEPING")
    assert bad.status_code == 400


# ---- the charts' query -------------------------------------------------------------


async def _ended_job(
    env: Env, space: Space, key: ApiKey, claimed: datetime | None, ended: datetime, fail: bool
) -> None:
    rule = (await env.store.find_rule_versions(space.id, "nap"))[-1]
    new = NewJob(str(uuid.uuid4()), space, rule, "c", {}, 0, "test", key, 60.0)
    job = await env.store.insert_job(new, ended - timedelta(minutes=5), domain.INITIALIZED)
    if claimed is None:
        await env.store.transition(job.id, [JobState.WAITING], domain.USER_CANCELED, ended)
        return
    claimed_jobs = await env.store.claim("w", 1, lambda: claimed, 30.0, domain.RUNNING)
    assert [c.job.id for c in claimed_jobs] == [job.id]
    status = domain.execution_error("boom") if fail else domain.COMPLETED
    await env.store.transition(job.id, [JobState.RUNNING], status, ended, worker_id="w")


async def test_finished_per_minute_counts_endings_and_durations(env: Env) -> None:
    space, key = await env.space_with_key("charts")
    other, other_key = await env.space_with_key("other")
    for target in (space, other):
        await env.push(target, flow("nap"))
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    at = minute + timedelta(seconds=20)
    await _ended_job(env, space, key, at - timedelta(seconds=2), at, fail=False)
    await _ended_job(env, space, key, at + timedelta(seconds=1), at + timedelta(seconds=5), False)
    later = at + timedelta(minutes=3)
    await _ended_job(env, space, key, later - timedelta(seconds=10), later, fail=True)
    await _ended_job(env, space, key, None, later, fail=False)  # canceled while waiting
    await _ended_job(env, other, other_key, at - timedelta(seconds=1), at, fail=False)
    await _ended_job(
        env, space, key, minute - timedelta(hours=30), minute - timedelta(hours=25), False
    )

    buckets = await env.manager.finished_per_minute(space.id, hours=24)

    assert [b.minute for b in buckets] == [minute, minute + timedelta(minutes=3)]
    first, second = buckets
    assert (first.finished, first.failed, first.ran) == (2, 0, 2)
    assert first.run_seconds == pytest.approx(6.0, abs=0.01)
    assert first.longest_seconds == pytest.approx(4.0, abs=0.01)
    assert (second.finished, second.failed, second.ran) == (2, 1, 1)
    assert second.run_seconds == pytest.approx(10.0, abs=0.01)
    assert second.longest_seconds == pytest.approx(10.0, abs=0.01)


@pytest.fixture
async def ui_rate_limited(sqlite_url: str) -> AsyncIterator[Dashboard]:
    """The dashboard with a start rate of two per key, then one every 1000 s."""
    store = SqlStore(sqlite_url)
    settings = Settings(
        database_url=sqlite_url,
        ui_secret="test-secret",
        start_rate_per_key=0.001,
        start_burst_per_key=2,
    )
    env = Env(settings, store, Catalog(store, settings), JobManager(store, settings, LocalEvents()))
    try:
        async for dashboard in _dashboard(env, "http://testserver"):
            yield dashboard
    finally:
        await store.close()


async def test_dashboard_starts_and_reruns_take_the_keys_start_rate(
    ui_rate_limited: Dashboard,
) -> None:
    """Issue 17, point 8: the dashboard was a way around FLOWJOBS_START_RATE_PER_KEY."""
    ui = ui_rate_limited
    await ui.sign_in()
    first = await _start_job(ui, '{"n": 1}')
    assert first.status_code == 303
    job_id = first.headers["location"].rsplit("/", 1)[1]
    assert (await _start_job(ui, '{"n": 2}')).status_code == 303

    refused = await _start_job(ui, '{"n": 3}')
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "faster than allowed" in refused.text  # the form again, with the reason
    token = await ui.csrf(f"/ui/jobs/{job_id}")
    rerun = await ui.http.post(f"/ui/jobs/{job_id}/rerun", data={"csrf": token}, headers=HTML)
    assert rerun.status_code == 429
    assert "faster than allowed" in rerun.text
    jobs = await ui.env.store.job_counts(ui.space.id)
    assert sum(jobs.values()) == 2  # neither the third start nor the rerun made a job
