"""The SSRF guard: address classification, the allow list, resolution and pinning.

Nothing here sends traffic anywhere: addresses are only classified, and the
only names resolved are ``localhost`` and IP literals.
"""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from flowjobs.errors import FlowExecutionError
from flowjobs.net.ssrf import (
    AllowList,
    check_addresses,
    is_forbidden_address,
    pin_url,
    resolve_target,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(address))


def test_check_refuses_if_any_address_is_forbidden() -> None:
    allow = AllowList.from_entries(())
    assert check_addresses("example.org", ["93.184.216.34"], allow) == "93.184.216.34"
    with pytest.raises(FlowExecutionError) as info:
        check_addresses("rebind.example", ["93.184.216.34", "10.0.0.5"], allow, node_id="n")
    error = info.value
    assert error.error_type == "ForbiddenTarget"
    assert error.node_id == "n"
    assert "rebind.example" in error.message and "10.0.0.5" in error.message


@pytest.mark.parametrize(
    ("entries", "host", "address"),
    [
        (["127.0.0.1"], "anything", "127.0.0.1"),
        (["10.0.0.0/8"], "svc.internal", "10.20.30.40"),
        (["fc00::/7"], "v6.internal", "fd00::5"),
        (["API.Internal."], "api.internal", "192.168.0.7"),
        (["127.0.0.0/8"], "mapped", "::ffff:127.0.0.1"),
    ],
)
def test_allow_list_by_ip_cidr_and_host(entries: list[str], host: str, address: str) -> None:
    allow = AllowList.from_entries(entries)
    chosen = check_addresses(host, [address], allow)
    assert ipaddress.ip_address(chosen) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    ("entries", "host", "address"),
    [
        (["127.0.0.1"], "x", "127.0.0.2"),
        (["10.0.0.0/16"], "x", "10.1.0.1"),
        (["api.internal"], "other.internal", "192.168.0.7"),
        (["api.internal"], "sub.api.internal", "192.168.0.7"),
    ],
)
def test_allow_list_is_exact(entries: list[str], host: str, address: str) -> None:
    with pytest.raises(FlowExecutionError, match="not public"):
        check_addresses(host, [address], AllowList.from_entries(entries))


async def test_localhost_is_refused_without_allow() -> None:
    with pytest.raises(FlowExecutionError) as info:
        await resolve_target("localhost", 80, AllowList.from_entries(()))
    assert info.value.error_type == "ForbiddenTarget"
    assert "localhost" in info.value.message


async def test_localhost_allowed_by_name() -> None:
    address = await resolve_target("localhost", 80, AllowList.from_entries(["localhost"]))
    assert ipaddress.ip_address(address).is_loopback


async def test_ip_literal_resolves_to_itself() -> None:
    # getaddrinfo on a literal does no lookup and sends nothing
    allow = AllowList.from_entries(())
    assert await resolve_target("93.184.216.34", 443, allow) == "93.184.216.34"
    with pytest.raises(FlowExecutionError, match=r"169\.254\.169\.254"):
        await resolve_target("169.254.169.254", 80, allow)


async def test_pin_url_rewrites_host_and_keeps_name() -> None:
    allow = AllowList.from_entries(["127.0.0.1", "::1"])
    pinned = await pin_url(httpx.URL("http://127.0.0.1:8080/a?b=1"), allow)
    assert str(pinned.url) == "http://127.0.0.1:8080/a?b=1"
    assert pinned.host_header == "127.0.0.1:8080"
    assert pinned.extensions == {}

    pinned = await pin_url(httpx.URL("https://localhost/x"), AllowList.from_entries(["localhost"]))
    assert pinned.url.host in ("127.0.0.1", "::1")
    assert pinned.host_header == "localhost"
    assert pinned.extensions == {"sni_hostname": "localhost"}


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd"])
async def test_only_http_and_https(url: str) -> None:
    with pytest.raises(FlowExecutionError) as info:
        await pin_url(httpx.URL(url), AllowList.from_entries(["127.0.0.1"]))
    assert info.value.error_type in ("ForbiddenTarget", "InvalidUrl")
