"""The SSRF guard: which webhook targets are refused, in IPv4 and IPv6 forms."""

from __future__ import annotations

import socket

import pytest

from asyncjobs.webhooks.delivery import RETRY_SCHEDULE_S, retry_delay
from asyncjobs.webhooks.ssrf import Policy, UnsafeTarget, check_url

DEPLOYED = Policy()  # https only, no exceptions
LOCAL = Policy.from_settings("false", "127.0.0.0/8")

REFUSED = [
    "https://127.0.0.1/hook",  # loopback
    "https://127.1.2.3/hook",
    "https://[::1]/hook",
    "https://10.0.0.8/hook",  # RFC 1918
    "https://172.16.5.4/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data/",  # instance metadata (link-local)
    "https://[fd00:ec2::254]/latest/meta-data/",  # instance metadata over IPv6 (unique-local)
    "https://[fe80::1]/hook",  # IPv6 link-local
    "https://100.64.0.1/hook",  # CGNAT
    "https://224.0.0.1/hook",  # multicast
    "https://[ff02::1]/hook",
    "https://0.0.0.0/hook",  # unspecified
    "https://[::]/hook",
    "https://240.0.0.1/hook",  # reserved
    "https://192.0.2.10/hook",  # documentation
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "https://[::ffff:a9fe:a9fe]/hook",  # 169.254.169.254, mapped
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
    "https://2130706433/hook",  # 127.0.0.1 as a decimal integer
    "https://0x7f000001/hook",  # ... and in hex
    "https://localhost/hook",  # a hostname that resolves to loopback
]


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_targets_are_refused(url):
    with pytest.raises(UnsafeTarget):
        check_url(url, DEPLOYED)


def test_hostname_resolving_to_a_private_address_is_refused(monkeypatch):
    # A public-looking name whose DNS answer includes a private address (or rebinding to one).
    def fake_dns(host, port, *args, **kwargs):
        assert host == "hooks.example.com"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    with pytest.raises(UnsafeTarget, match=r"10\.1\.2\.3"):
        check_url("https://hooks.example.com/hook", DEPLOYED)


def test_public_target_is_accepted_and_pinned(monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700::1111", port, 0, 0))
        ],
    )
    target = check_url("https://hooks.example.com:8443/in?x=1", DEPLOYED)
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.com",
        8443,
        "/in?x=1",
        "2606:4700::1111",
    )


def test_https_is_required_unless_the_stack_allows_http():
    with pytest.raises(UnsafeTarget, match="https"):
        check_url("http://93.184.216.34/hook", DEPLOYED, resolve=False)
    assert check_url("http://127.0.0.1:8080/hook", LOCAL).address == "127.0.0.1"


def test_local_exception_covers_only_what_it_names():
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/", "http://[::1]/hook"):
        with pytest.raises(UnsafeTarget):
            check_url(url, LOCAL)


def test_urls_with_credentials_or_odd_schemes_are_refused():
    for url in ("https://user:pw@93.184.216.34/", "ftp://93.184.216.34/", "file:///etc/passwd", "https:///x"):
        with pytest.raises(UnsafeTarget):
            check_url(url, DEPLOYED, resolve=False)


def test_retry_schedule_meets_standard_webhooks():
    delays = [retry_delay(n, None) for n in range(len(RETRY_SCHEDULE_S) + 1)]
    assert delays[-1] is None  # used up
    assert len(RETRY_SCHEDULE_S) >= 8
    assert sum(RETRY_SCHEDULE_S) >= 24 * 3600
    assert delays[:4] == [0, 5, 300, 1800]
    assert retry_delay(1, 120) == 120  # Retry-After lengthens a short wait
    assert retry_delay(4, 60) == 7200  # but never shortens the schedule
    assert retry_delay(1, 10**9) == 86400  # and is capped at a day
    assert retry_delay(3, None, time_scale=0.001) == pytest.approx(1.8)


@pytest.mark.parametrize(
    "url",
    [
        "http://a..b/hook",  # an empty label
        "http://" + "a" * 64 + ".com/hook",  # a label over 63 characters
        "http://" + ".".join(["abcdefghij"] * 26) + "/hook",  # a name over 253 characters
        "http://.example.com/hook",
    ],
)
def test_malformed_host_names_are_refused_not_crashed(url):
    for resolve in (True, False):
        with pytest.raises(UnsafeTarget, match="host"):
            check_url(url, LOCAL, resolve=resolve)


def test_a_resolver_failing_for_now_is_not_a_refused_url(monkeypatch):
    # EAI_AGAIN: the DNS server failed, the name may be fine. The API answers 503, a delivery
    # records a failed attempt and retries; neither calls the URL invalid.
    import socket

    from asyncjobs.errors import InfrastructureError

    def down(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", down)
    with pytest.raises(InfrastructureError):
        check_url("https://hooks.example.com/x", Policy())
