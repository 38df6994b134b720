"""Which hosts a server-side fetch may reach: public addresses only, unless allow-listed (SSRF defence).

A URL's host is resolved here and EVERY address it resolves to is checked; the caller then connects to
a checked address (never re-resolves), so a DNS answer that changes between check and connect (DNS
rebinding) cannot steer the request to an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_N = ipaddress.ip_network
# Checked in order, so an address gets the most specific reason. Python's own `is_private`/`is_global`
# miss some of these on 3.11 (100.64/10 and multicast count as global), hence a table of our own.
_DENIED: tuple[tuple[IPNetwork, str], ...] = (
    (_N("0.0.0.0/8"), "unspecified"), (_N("::/128"), "unspecified"),
    (_N("127.0.0.0/8"), "loopback"), (_N("::1/128"), "loopback"),
    (_N("169.254.0.0/16"), "link-local (cloud metadata)"), (_N("fe80::/10"), "link-local"),
    (_N("10.0.0.0/8"), "private"), (_N("172.16.0.0/12"), "private"), (_N("192.168.0.0/16"), "private"),
    (_N("fc00::/7"), "private (unique local)"), (_N("fec0::/10"), "private (site-local)"),
    (_N("100.64.0.0/10"), "carrier-grade NAT"),
    (_N("224.0.0.0/4"), "multicast"), (_N("ff00::/8"), "multicast"),
    (_N("240.0.0.0/4"), "reserved"), (_N("192.0.0.0/24"), "reserved"), (_N("198.18.0.0/15"), "reserved"),
    (_N("192.0.2.0/24"), "documentation"), (_N("198.51.100.0/24"), "documentation"),
    (_N("203.0.113.0/24"), "documentation"), (_N("2001:db8::/32"), "documentation"),
)
# IPv6 forms that carry an IPv4 address the packet ends up at: NAT64 (RFC 6052) routes 64:ff9b::a9fe:a9fe
# to 169.254.169.254, and Python 3.11 calls that address global.
_NAT64 = _N("64:ff9b::/96")
# Names that only mean something inside a network: cloud metadata endpoints and non-public suffixes
# (RFC 6761 .localhost, RFC 6762 .local, RFC 8375 .home.arpa, ICANN's reserved .internal).
_DENIED_NAMES = ("metadata", "metadata.google.internal", "instance-data")
_DENIED_SUFFIXES = (".internal", ".local", ".localhost", ".home.arpa", ".localdomain")


class AddressNotAllowed(ValueError):
    """The host is, or resolves to, an address a server-side fetch must not reach."""


class ResolveFailed(OSError):
    """The host name does not resolve."""


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks exempt from the deny rules (`RESUMEOPT_FETCH_ALLOW`: names, IPs, CIDRs)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: list[str]) -> AllowList:
        names, networks = set(), []
        for entry in (e.strip().lower() for e in entries if e.strip()):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows(self, address: IPAddress) -> bool:
        address = _embedded_ipv4(address) or address  # 127.0.0.1 allowed: ::ffff:127.0.0.1 too
        return any(address in net for net in self.networks if net.version == address.version)


def deny_reason(address: IPAddress) -> str | None:
    """Why a fetch must not reach `address` ("loopback", "private", ...), or None for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return deny_reason(embedded)
    for network, reason in _DENIED:
        if address.version == network.version and address in network:
            return reason
    return None if address.is_global else "not a public address"


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version == 4:
        return None
    if address.ipv4_mapped is not None:  # ::ffff:127.0.0.1 reaches 127.0.0.1 on a dual-stack socket
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address.teredo[1] if address.teredo else None


def name_deny_reason(host: str) -> str | None:
    name = host.lower().rstrip(".")
    if name in _DENIED_NAMES or name.endswith(_DENIED_SUFFIXES):
        return "internal host name"
    return None


async def resolve_allowed(host: str, port: int, allow: AllowList) -> list[IPAddress]:
    """The addresses `host` resolves to, every one checked; AddressNotAllowed if any is denied.

    Refusing when one of several answers is internal (rather than picking a public one) keeps a name
    whose records mix public and internal addresses from being a way in."""
    host = host.lower().rstrip(".")
    named = host in allow.names
    if not named and (reason := name_deny_reason(host)):
        raise AddressNotAllowed(f"{host}: {reason}")
    addresses = await _resolve(host, port)
    for address in addresses:
        reason = None if named or allow.allows(address) else deny_reason(address)
        if reason:
            where = host if str(address) == host else f"{host} resolves to {address}"
            raise AddressNotAllowed(f"{where}: {reason}")
    return addresses


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolveFailed(f"{host} does not resolve: {exc.strerror}") from None
    # getaddrinfo also accepts shorthand IPv4 forms (0x7f.1, 2130706433): what it returns is what we check
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise ResolveFailed(f"{host} does not resolve")
    return list(dict.fromkeys(addresses))
