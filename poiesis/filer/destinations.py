"""Where http(s) and ftp transfers may connect: not to the server's own networks unless allowed (no SSRF).

A task's URLs are chosen by its submitter, and the filer runs inside the
service's network: without a check, ``http://169.254.169.254/...`` would
fetch the cloud's instance credentials into the task, and loopback or private
addresses would reach the database, the kubelet or an admin interface. So
every connection a filer makes is checked on the addresses the host name
resolves to, at connect time, and made to the checked address itself (the
name is resolved once: a second lookup cannot answer differently, which
defeats DNS rebinding). A redirect opens a new connection, checked the same
way. Refused unless ``POIESIS_FILER_ALLOW_NETWORKS`` allows them for the
scheme: the networks of ``REFUSED`` (loopback, private, link-local with the
metadata addresses, shared/CGNAT, multicast, reserved...), also when an IPv6
address embeds such an IPv4 one (IPv4-mapped, NAT64, 6to4).

Not checked: an s3:// URL names a bucket, not a host; the S3 endpoint is the
operator's setting (``POIESIS_S3_ENDPOINT_URL``). With an HTTP proxy from the
environment (``HTTPS_PROXY``...), requests connects to the proxy, unchecked,
and the proxy decides where the request goes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

from poiesis.config.filer import ALLOW_NETWORKS_ENV, Network
from poiesis.filer.errors import FilerError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: refused by default: (network, what it is)
REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), what)
    for cidr, what in (
        ("0.0.0.0/8", "'this network' (reaches this host)"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (cloud metadata)"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/96", "an unspecified, loopback or IPv4-compatible address"),
        ("100::/64", "a discard address"),
        ("fc00::/7", "a unique local (private) address (cloud metadata)"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_6TO4 = ipaddress.IPv6Network("2002::/16")


class DestinationRefused(FilerError):
    """A transfer would connect to an address the filers do not reach (not retried)."""


def embedded(ip: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, NAT64, 6to4), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def refusal(ip: IPAddress, allowed: Sequence[Network] = ()) -> str | None:
    """What ``ip`` is when the filers must not connect to it (None: they may)."""
    inner = embedded(ip)
    for address in (ip, inner) if inner is not None else (ip,):
        if any(address.version == net.version and address in net for net in allowed):
            return None
    for address in (ip, inner) if inner is not None else (ip,):
        for net, what in REFUSED:
            if address.version == net.version and address in net:
                return what if address is ip else f"{what} inside {ip}"
    return None


def _ip(sockaddr: tuple[Any, ...]) -> IPAddress:
    return ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) is no part of it


def resolve(host: str, port: int, *, scheme: str, allowed: Sequence[Network]) -> list[tuple[Any, ...]]:
    """The getaddrinfo entries of ``host`` the filers may connect to, in resolver order; resolved once.

    Raises ``DestinationRefused`` naming the refused addresses when none is
    left (and ``socket.gaierror`` when the name does not resolve).
    """
    entries = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    kept, refused = [], []
    for entry in entries:
        ip = _ip(entry[4])
        why = refusal(ip, allowed)
        if why is None:
            kept.append(entry)
        elif f"{ip} ({why})" not in refused:
            refused.append(f"{ip} ({why})")
    if not kept:
        bare = host.strip("[]")
        literal = any(bare == str(_ip(entry[4])) for entry in entries)
        shown = f"{bare} ({refused[0].split(' (', 1)[1]}" if literal else f"{host}: it resolves to {', '.join(refused)}"
        raise DestinationRefused(f"refused to connect to {shown}; {ALLOW_NETWORKS_ENV} can allow it for {scheme}")
    return kept


def connect(
    host: str,
    port: int,
    *,
    scheme: str,
    allowed: Sequence[Network],
    timeout: object = None,
    source_address: tuple[str, int] | None = None,
    socket_options: Sequence[tuple[int, int, int | bytes]] | None = None,
) -> socket.socket:
    """A TCP connection to ``host``:``port`` made to an address ``resolve`` let through, tried in order.

    ``timeout``: seconds, or None for blocking; anything else (urllib3's
    "default" marker) leaves the socket's default.
    """
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in resolve(host, port, scheme=scheme, allowed=allowed):
        sock = socket.socket(family, kind, proto)
        try:
            for level, option, value in socket_options or ():
                sock.setsockopt(level, option, value)
            if timeout is None or isinstance(timeout, (int, float)):
                sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    assert error is not None  # resolve returned at least one entry
    raise error
