"""The request ``net`` builds for a checked address, as the ``rest`` node and
the webhook sender both send it. Nothing is sent: requests are only built,
and the only name resolved is ``localhost``."""

from __future__ import annotations

import httpx

from flowjobs.net.http_client import new_client, pinned_request
from flowjobs.net.ssrf import AllowList, pin_url


async def test_the_request_goes_to_the_checked_address_under_the_name_given() -> None:
    pinned = await pin_url(
        httpx.URL("https://localhost:8443/hook"), AllowList.from_entries(["localhost"])
    )
    async with new_client(5.0) as client:
        request = pinned_request(
            client,
            "POST",
            pinned,
            {"HOST": "elsewhere.example", "Content-Type": "application/json"},
            b"{}",
        )
    assert request.url.host in ("127.0.0.1", "::1")
    assert request.url.port == 8443 and request.url.path == "/hook"
    assert request.headers.get_list("host") == ["localhost:8443"]  # a given Host is replaced
    assert request.headers["content-type"] == "application/json"
    assert request.extensions["sni_hostname"] == "localhost"  # TLS checks the name, not the IP
    assert request.content == b"{}"
