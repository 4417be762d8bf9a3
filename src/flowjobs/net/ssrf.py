"""Guarding outgoing HTTP requests against server-side request forgery.

Before each request (and each redirect hop) the target host is resolved once;
the request is refused if any address it resolves to is not public, unless
the allow list names the host, the address or a network containing it. The
request then goes to the checked address itself (no second DNS lookup), with
the original name in the ``Host`` header and as the TLS server name.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from flowjobs.errors import FlowExecutionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
FORBIDDEN_TARGET = "ForbiddenTarget"

# RFC 6052 well-known NAT64 prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_forbidden_address(address: IPAddress) -> bool:
    """Whether ``address`` is loopback, private, link-local, multicast, reserved,
    unspecified or otherwise not globally reachable (IPv4 embedded in IPv6
    included)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # the IPv4 address is what gets reached
            return is_forbidden_address(address.ipv4_mapped)
        embedded = _embedded_ipv4(address)
        if embedded is not None and is_forbidden_address(embedded):
            return True
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _normalise_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _host_spellings(host: str) -> set[str]:
    """The host as given and in its IDNA (ASCII) form."""
    name = _normalise_host(host)
    spellings = {name}
    with contextlib.suppress(UnicodeError):
        spellings.add(name.encode("idna").decode("ascii"))
    return spellings


@dataclass(frozen=True)
class AllowList:
    """Host names and networks exempt from the address check."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AllowList:
        """Parse entries: an IP address, a CIDR network, or a host name."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.update(_host_spellings(text))
        return cls(frozenset(hosts), tuple(networks))

    def permits_host(self, host: str) -> bool:
        return _normalise_host(host) in self.hosts

    def permits_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.networks
        )


class ResolutionError(FlowExecutionError):
    """The target host could not be resolved (worth retrying)."""


def _refuse(message: str, node_id: str | None) -> FlowExecutionError:
    return FlowExecutionError(message, node_id=node_id, error_type=FORBIDDEN_TARGET)


def check_addresses(
    host: str, addresses: Iterable[str], allow: AllowList, *, node_id: str | None = None
) -> str:
    """Check every address ``host`` resolved to; return the one to connect to.

    Raises FlowExecutionError (error_type ``ForbiddenTarget``) naming the host
    and the first refused address.
    """
    parsed = [ipaddress.ip_address(text) for text in addresses]
    if not parsed:
        raise ResolutionError(
            f"{host} did not resolve to any address",
            node_id=node_id,
            error_type="HttpConnectionError",
        )
    if not allow.permits_host(host):
        for address in parsed:
            if is_forbidden_address(address) and not allow.permits_address(address):
                raise _refuse(
                    f"refused to connect to {host} ({address}): the address is not public "
                    "and not in the allow list",
                    node_id,
                )
    return str(parsed[0])


async def resolve_target(
    host: str, port: int, allow: AllowList, *, node_id: str | None = None
) -> str:
    """Resolve ``host`` once and return the checked address to connect to."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # socket.gaierror
        raise ResolutionError(
            f"could not resolve {host}: {exc}", node_id=node_id, error_type="HttpConnectionError"
        ) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return check_addresses(host, addresses, allow, node_id=node_id)


@dataclass(frozen=True)
class PinnedTarget:
    """A URL rewritten to a checked address, with what keeps the name in use."""

    url: httpx.URL
    host_header: str
    extensions: dict[str, Any]


def check_scheme(url: httpx.URL, *, node_id: str | None = None) -> None:
    if url.scheme not in ALLOWED_SCHEMES:
        raise _refuse(f"refused URL scheme {url.scheme!r} (only http and https)", node_id)
    if not url.host:
        raise FlowExecutionError(
            f"the URL {url} has no host", node_id=node_id, error_type="InvalidUrl"
        )


async def pin_url(url: httpx.URL, allow: AllowList, *, node_id: str | None = None) -> PinnedTarget:
    """Check ``url``'s scheme and host and rewrite it to the address to use."""
    check_scheme(url, node_id=node_id)
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    address = await resolve_target(host, port, allow, node_id=node_id)
    extensions: dict[str, Any] = {}
    if url.scheme == "https":
        extensions["sni_hostname"] = host
    return PinnedTarget(
        url=url.copy_with(host=address),
        host_header=url.netloc.decode("ascii"),
        extensions=extensions,
    )
