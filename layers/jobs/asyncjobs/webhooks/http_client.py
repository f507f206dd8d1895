"""The HTTP client of webhook attempts: one POST to an address checked beforehand (the socket is
pinned to it, with SNI and certificate checks for the host name), within one deadline in all."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from asyncjobs.webhooks.ssrf import Target

TIMEOUT_S = 15.0  # one attempt in all: connect, send, status, headers and body


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after_s: float | None = None


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to an address checked beforehand, with SNI and certificate checks for the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        # The raw socket is visible before the handshake, so a deadline can cut a slow one short.
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def http_post(
    target: Target, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S
) -> AttemptResult:
    """One POST, never following redirects (a 3xx is a failed attempt), within `timeout` seconds
    in all: connecting, sending, and reading the status line, headers and body (64 KB at most).
    A socket timeout alone bounds each read, not their sum: a receiver trickling a byte at a time
    would hold the attempt forever, so a watchdog shuts the socket down at the deadline. Any
    failure is an AttemptResult with an error, never an exception."""
    started = time.monotonic()
    conn_type = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = conn_type(target, timeout)
    expired = threading.Event()

    def cut_off() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", target.path, body=body, headers={**headers, "host": _host_header(target)})
        resp = conn.getresponse()
        resp.read(64 * 1024)
        if expired.is_set():
            raise TimeoutError("cut off at the deadline")
        retry_after = _retry_after(resp.getheader("retry-after")) if resp.status in (429, 503) else None
        return AttemptResult(resp.status, elapsed_ms(started), None, retry_after)
    except Exception as exc:  # every failure of an attempt is recorded as one
        if expired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
            return AttemptResult(
                None, elapsed_ms(started), f"timeout: no complete answer within {timeout:.1f} s"
            )
        return AttemptResult(None, elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:300])
    finally:
        watchdog.cancel()
        conn.close()


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
