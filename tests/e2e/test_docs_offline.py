"""``/docs`` (Swagger UI) and ``/redoc`` render their operations in Debian's
Chromium with the network cut off: every request that is not to the server
on the loopback address is aborted, and the browser resolves no other host.
Their scripts, styles and favicon come from files installed with the package
(api/docs_pages.py), never from a CDN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from support.processes import Proc, flowjobs, serving

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 20_000
# Chromium resolves no name but the loopback: a CDN could not be reached even
# if a request slipped past the route below.
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("docs")
    url = f"sqlite:///{tmp / 'docs.db'}"
    flowjobs(url, "init")
    with serving(url, tmp, worker=False, name="docs") as proc:
        yield proc


@pytest.fixture(scope="module")
def browser(server: Proc) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS)
        yield chromium
        chromium.close()


class Offline:
    """A page whose requests may only reach the loopback address."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context()
        self.context.set_default_timeout(TIMEOUT_MS)
        self.blocked: list[str] = []
        self.served: list[str] = []
        self.context.route("**/*", self._guard)
        self.page: Page = self.context.new_page()

    def _guard(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            self.served.append(url)
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    page = Offline(browser)
    yield page
    page.close()


def test_swagger_ui_renders_every_operation_offline(server: Proc, offline: Offline) -> None:
    offline.page.goto(f"{server.base_url}/docs")
    operations = offline.page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=TIMEOUT_MS)
    path = offline.page.locator(".opblock-summary-path", has_text="/job/start/{identifier}")
    expect(path.first).to_be_visible()
    assert operations.count() >= 20  # the Jobs, Management and ops routes
    expect(offline.page.locator(".info .title")).to_contain_text("flowjobs Jobs API")
    assert offline.blocked == []
    assert any("/docs-assets/swagger-ui-bundle.js" in url for url in offline.served)


def test_redoc_renders_its_operations_offline(server: Proc, offline: Offline) -> None:
    offline.page.goto(f"{server.base_url}/redoc")
    operations = offline.page.locator("[data-section-id^='operation/']")
    expect(operations.first).to_be_attached(timeout=TIMEOUT_MS)
    expect(offline.page.locator("h2", has_text="Cancel a job").first).to_be_visible()
    assert operations.count() >= 20
    assert offline.blocked == []
    assert any("/docs-assets/redoc.standalone.js" in url for url in offline.served)


def test_the_assets_are_served_by_the_server_itself(server: Proc, offline: Offline) -> None:
    response = offline.page.request.get(f"{server.base_url}/docs-assets/swagger-ui.css")
    assert response.status == 200
    assert "text/css" in response.headers["content-type"]
    html = offline.page.request.get(f"{server.base_url}/docs").text()
    assert "cdn." not in html and "fonts.googleapis" not in html
