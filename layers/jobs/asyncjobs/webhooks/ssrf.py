"""Keeps webhook deliveries away from private networks (SSRF).

A URL is refused when any address its host resolves to is not a public unicast address: loopback,
RFC 1918, link-local (169.254.169.254, fd00:ec2::254: the instance metadata services), CGNAT,
unique-local, multicast, reserved, documentation, or an IPv4 address wrapped in IPv6. The check
runs when a subscription is saved and again at every delivery, and the delivery connects to the
very address it checked, so DNS rebinding cannot swap in a private one between check and connect.
Redirects are never followed (see `asyncjobs.webhooks.http_client`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from asyncjobs.errors import InfrastructureError

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What an HTTP request line can carry as is. URLs are refused, not percent-encoded on the fly: the
# URL a tenant saved is the URL requested, byte for byte, and is the one the API shows back.
_REQUEST_TARGET = re.compile(r"^[\x21-\x7e]*$")


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Policy:
    require_https: bool = True
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """Non-public networks allowed anyway (the local stack allows 127.0.0.0/8 by an explicit
    setting); empty in deployed stacks."""

    @classmethod
    def from_settings(cls, require_https: str, allowed: str) -> Policy:
        nets = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in allowed.split(",") if n.strip())
        return cls(require_https=require_https.lower() not in ("false", "0", "no"), allowed_networks=nets)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    address: str  # the checked address to connect to


def _embedded_v4(ip: IP) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return None


def check_address(ip: IP, policy: Policy) -> None:
    if any(ip.version == net.version and ip in net for net in policy.allowed_networks):
        return
    inner = _embedded_v4(ip)
    if inner is not None:
        check_address(inner, policy)
        raise UnsafeTarget(f"{ip} wraps an IPv4 address in IPv6; use the IPv4 address")
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        raise UnsafeTarget(f"{ip} is not a public address (private, loopback, link-local or reserved)")


def check_url(url: str, policy: Policy, resolve: bool = True) -> Target:
    """Parses and checks a webhook URL; with `resolve`, every address of its host too."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("https", "http"):
        raise UnsafeTarget("the URL must start with https://")
    if parts.scheme == "http" and policy.require_https:
        raise UnsafeTarget("the URL must use https://")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("put credentials in the subscription's auth, not in the URL")
    host = parts.hostname
    host = _ascii_host(host)
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not _REQUEST_TARGET.match(path):
        raise UnsafeTarget(
            "the path and query must be printable ASCII, without spaces or control characters: "
            "percent-encode anything else (e.g. %C3%A9 for é)"
        )
    if not resolve:
        return Target(parts.scheme, host, port, path, "")
    addresses = resolve_host(host, port)
    for ip in addresses:
        check_address(ip, policy)
    return Target(parts.scheme, host, port, path, str(addresses[0]))


def check_url_by(
    url: str, policy: Policy, deadline: float, check: Callable[[str, Policy], Target] | None = None
) -> Target | None:
    """`check_url` (the SSRF check and its DNS resolution), waited for until `deadline` (monotonic):
    None when it has not finished by then. getaddrinfo takes no timeout (a socket's does not apply
    to it, and the resolver's own, from resolv.conf, is seconds per try and server), so it runs in a
    daemon thread that is left behind at the deadline: it ends when the resolver gives up, and its
    answer is dropped. A thread per check costs well under a millisecond."""
    run = check or check_url
    outcome: list[Target | BaseException] = []

    def target() -> None:
        try:
            outcome.append(run(url, policy))
        except BaseException as exc:  # handed to the caller
            outcome.append(exc)

    worker = threading.Thread(target=target, name="webhook-ssrf-check", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if not outcome:
        return None
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _ascii_host(host: str) -> str:
    """The host as sent on the wire: an IP literal as is, a DNS name in its ASCII (IDNA) form,
    at most 253 characters in labels of 1 to 63 characters. Anything else cannot resolve (and
    makes `getaddrinfo` raise UnicodeError) or cannot go in a Host header."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    problem = "has a character not allowed in a host name"
    if not any(c.isspace() or ord(c) < 32 or c in "%/\\" for c in host):
        try:
            ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_host = ""
        labels = ascii_host.removesuffix(".").split(".")
        if ascii_host and len(ascii_host) <= 253 and all(1 <= len(label) <= 63 for label in labels):
            return ascii_host
        problem = "has an empty label, a label over 63 characters or is over 253 characters"
    raise UnsafeTarget(f"the host {host[:80]!r} is not a valid host name (it {problem})")


def resolve_host(host: str, port: int) -> list[IP]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:  # the resolver failed for now: not the URL's fault
            raise InfrastructureError(f"DNS lookup of {host} failed for now: {exc}") from exc
        raise UnsafeTarget(f"the host {host} does not resolve") from exc
    except (UnicodeError, ValueError) as exc:  # IDNA encoding refused the name
        raise UnsafeTarget(f"the host {host[:80]!r} is not a valid host name: {exc}") from exc
    found: list[IP] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise UnsafeTarget(f"the host {host} does not resolve")
    return found
