"""The dashboard in a real browser: Debian's Chromium, headless, driven by
Playwright, against a real ``flowjobs serve`` with its embedded worker.

The server has its own database with one space whose parallel limit is 1, so
that a second job really waits while a first one runs: that is how the tests
see a job go WAITING -> RUNNING -> COMPLETED on the page. Screenshots of every
page are taken on each run; `make screenshots` writes them to docs/screenshots/
(the README shows them), other runs to a temporary folder so that a test run
leaves the checkout clean.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from typer.testing import CliRunner

from support.processes import FLOWS, Proc, serving, wait_for

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads a browser here
SCREENSHOTS = Path(
    os.environ.get("FLOWJOBS_SCREENSHOTS") or Path(tempfile.gettempdir()) / "flowjobs-screenshots"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SERVER_ENV = {
    "FLOWJOBS_UI_SECRET": "e2e-dashboard-secret",
    "FLOWJOBS_UI_REFRESH_SECONDS": "0.3",
    "FLOWJOBS_POLL_INTERVAL": "0.1",
    "FLOWJOBS_CANCEL_POLL_INTERVAL": "0.05",
    "FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "0",
}
TIMEOUT_MS = 15_000
JOB_PAGE = re.compile(r"/ui/jobs/[0-9a-f-]{36}$")


@dataclass
class Site:
    proc: Proc
    base: str
    space_id: str
    solver: str
    management: str

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.solver}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=10, **kw)

    def start(self, alias: str, data: Any) -> str:
        response = self.api("POST", f"/job/start/{alias}", json=data)
        assert response.status_code == 200, response.text
        job_id: str = response.json()["jobId"]
        return job_id

    def state(self, job_id: str) -> str:
        state: str = self.api("GET", f"/job/{job_id}").json()["status"]["state"]
        return state

    def wait_state(self, job_id: str, *states: str) -> None:
        wait_for(lambda: self.state(job_id) in states, timeout=15, interval=0.05)


def _cli(url: str, *args: str) -> Any:
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if result.stdout.strip().startswith("{") else None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{tmp / 'dashboard.db'}"
    _cli(url, "init")
    with serving(url, tmp, worker=True, name="dashboard", extra_env=SERVER_ENV) as proc:
        space = _cli(
            url,
            "space",
            "create",
            "ui-e2e",
            "--parallel-limit",
            "1",
            "--quota-seconds",
            "600",
            "--json",
        )
        solver = _cli(url, "key", "create", "--space", "ui-e2e", "--json")
        admin = _cli(url, "key", "create", "--space", "ui-e2e", "--kind", "management", "--json")
        for flow in ("sleeper", "echo"):
            _cli(url, "rule", "push", str(FLOWS / f"{flow}.yaml"), "--space", "ui-e2e", "--publish")
        assert proc.base_url is not None
        yield Site(proc, proc.base_url, space["id"], solver["key"], admin["key"])


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Browser]:
    # After the site: Playwright's sync API runs an event loop in this thread,
    # and the in-process CLI that provisions the site needs asyncio.run().
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


def _context(browser: Browser, viewport: dict[str, int] = DESKTOP) -> BrowserContext:
    context = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _sign_in(page: Page, site: Site, secret: str | None = None) -> None:
    page.goto(site.base + "/ui/login")
    page.get_by_label("Management API key").fill(secret or site.management)
    page.get_by_role("button", name="Sign in").click()


def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide in a {widths[1]} px view"


def test_a_solver_key_cannot_sign_in_and_a_management_key_can(browser: Browser, site: Site) -> None:
    with _context(browser) as context:
        page = context.new_page()
        page.goto(site.base + "/ui/jobs")
        expect(page).to_have_url(site.base + "/ui/login?next=/ui/jobs")
        expect(page.get_by_label("Management API key")).to_be_focused()
        _shot(page, "signin")

        page.get_by_label("Management API key").fill(site.solver)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("That is a Solver key")
        expect(page.get_by_label("Management API key")).to_have_attribute("aria-invalid", "true")

        page.get_by_label("Management API key").fill(site.management)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(site.base + "/ui/jobs")
        expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
        page.keyboard.press("Tab")  # the keyboard's first stop is the skip link
        expect(page.locator(":focus")).to_have_text("Skip to main content")
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        cookie = next(c for c in context.cookies() if c["name"] == "flowjobs_ui")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
        assert site.management not in cookie["value"]


def _badge_history(page: Page) -> None:
    """Record every state the job page shows, as it changes, in window.seen."""
    page.evaluate(
        """() => {
        window.seen = [];
        const region = document.getElementById('job-live');
        const note = () => {
            const state = region.querySelector('[data-state]').dataset.state;
            if (window.seen[window.seen.length - 1] !== state) window.seen.push(state);
        };
        note();
        new MutationObserver(note).observe(region, {childList: true, subtree: true});
    }"""
    )


def _start_from_flow_page(page: Page, site: Site, alias: str, input_text: str) -> str:
    page.goto(site.base + "/ui/flows")
    page.get_by_role("link", name=alias.capitalize(), exact=True).click()
    page.get_by_label("Input (JSON)").fill(input_text)
    page.get_by_role("button", name="Start job").click()
    page.wait_for_url(JOB_PAGE)
    return page.url.rsplit("/", 1)[-1]


def test_a_job_started_on_the_flow_page_goes_waiting_running_completed_live(
    browser: Browser, site: Site
) -> None:
    with _context(browser) as context:
        watcher, operator = context.new_page(), context.new_page()
        _sign_in(watcher, site)
        watcher.goto(site.base + "/ui/flows")
        _shot(watcher, "flows")

        blocker = _start_from_flow_page(watcher, site, "sleeper", '{"seconds": 30}')
        expect(watcher.locator("#job-live [data-state]")).to_have_attribute("data-state", "RUNNING")
        # the space runs one job at a time: this one waits for the blocker
        job = _start_from_flow_page(watcher, site, "sleeper", '{"seconds": 2}')
        assert job != blocker
        expect(watcher.locator("#job-live [data-state]")).to_have_attribute("data-state", "WAITING")
        watcher.evaluate("() => { window.sameDocument = true; }")
        _badge_history(watcher)

        # cancel the running blocker from the Jobs list in another tab
        operator.goto(site.base + "/ui/jobs")
        operator.locator(f"#cancel-{blocker}").click()
        expect(operator).to_have_url(site.base + "/ui/jobs")
        blocker_badge = operator.locator(f'tr[data-job-id="{blocker}"] [data-state]')
        expect(blocker_badge).to_have_attribute("data-state", "CANCELED")
        assert operator.locator(f"#cancel-{blocker}").count() == 0

        badge = watcher.locator("#job-live [data-state]")
        expect(badge).to_have_attribute("data-state", "COMPLETED")
        assert watcher.evaluate("() => window.sameDocument") is True  # never reloaded
        assert watcher.evaluate("() => window.seen") == ["WAITING", "RUNNING", "COMPLETED"]
        expect(watcher.get_by_role("heading", name="Output")).to_be_visible()
        expect(watcher.locator("pre[aria-label='Output JSON']")).to_contain_text('"slept": 2')
        expect(watcher.locator("table.trace")).to_contain_text("nap")
        _shot(watcher, "job")
        assert site.state(blocker) == "CANCELED"


def test_the_jobs_list_filters_by_state_and_flow(browser: Browser, site: Site) -> None:
    echo = site.start("echo", {"hello": "filters"})
    canceled = site.start("sleeper", {"seconds": 30})
    site.api("POST", f"/job/cancel/{canceled}")
    site.wait_state(echo, "COMPLETED")
    site.wait_state(canceled, "CANCELED")

    with _context(browser) as context:
        page = context.new_page()
        _sign_in(page, site)
        page.goto(site.base + "/ui/jobs")
        page.get_by_label("Canceled", exact=True).check()
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(site.base + "/ui/jobs?state=CANCELED&rule=&version=")
        states = page.locator("#job-rows [data-state]")
        expect(states.first).to_be_visible()
        assert set(states.evaluate_all("els => els.map(e => e.dataset.state)")) == {"CANCELED"}
        expect(page.locator(f'tr[data-job-id="{canceled}"]')).to_be_visible()
        assert page.locator(f'tr[data-job-id="{echo}"]').count() == 0

        page.get_by_label("Canceled", exact=True).uncheck()
        page.get_by_label("Flow", exact=True).select_option("echo")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(f'tr[data-job-id="{echo}"]')).to_be_visible()
        flows = page.locator("#job-rows td[data-label='Flow']").all_inner_texts()
        assert flows and set(flows) == {"echo"}
        page.get_by_role("link", name="Clear").click()
        expect(page.locator(f'tr[data-job-id="{canceled}"]')).to_be_visible()
        _shot(page, "jobs")

        page.get_by_role("link", name="Overview").click()
        expect(page.locator(".count--canceled .count__number")).not_to_have_text("0")
        expect(page.get_by_label(re.compile("of 10 min of execution time used"))).to_be_visible()
        _shot(page, "overview")
        page.goto(site.base + "/ui/flows/sleeper")
        _shot(page, "flow")


def test_a_post_without_the_csrf_token_is_refused(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=10) as http:
        login = http.get("/ui/login", headers={"Accept": "text/html"})
        token = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed_in = http.post("/ui/login", data={"csrf": token, "key": site.management})
        assert signed_in.status_code == 303
        page = http.get("/ui/", headers={"Accept": "text/html"})
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]

        for data in ({}, {"csrf": "forged"}, {"running": "on"}):
            refused = http.post("/ui/jobs/cancel-all", data=data)
            assert refused.status_code == 403
            assert refused.json()["code"] == "CSRF_TOKEN_INVALID"
        signed_out = http.post("/ui/logout", data={"csrf": token})
        assert signed_out.status_code == 303


def test_pages_fit_a_phone_screen(browser: Browser, site: Site) -> None:
    job = site.start("echo", {"a-rather-long-key-" * 8: "and a long value " * 20})
    site.wait_state(job, "COMPLETED")
    with _context(browser, PHONE) as context:
        page = context.new_page()
        _sign_in(page, site)
        for path, name in (
            ("/ui/", "phone-overview"),
            ("/ui/jobs", "phone-jobs"),
            (f"/ui/jobs/{job}", "phone-job"),
            ("/ui/flows", None),
            ("/ui/flows/sleeper", None),
        ):
            page.goto(site.base + path)
            expect(page.locator("main h1")).to_be_visible()
            _no_horizontal_overflow(page)
            if name:
                _shot(page, name, full_page=False)  # what a phone shows first
