"""A tiny real HTTP proxy on 127.0.0.1 in front of the local stack, misbehaving as scripted: it
forwards a request and then hangs up without answering (the answer is lost on the way back), or
answers 429/503 itself with a `Retry-After`, before forwarding as usual. It records every request
it saw, when, and what the stack answered."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Step:
    kind: str  # "drop": forward, then hang up without answering; "answer": answer `status` itself
    status: int = 503
    retry_after: str | None = "1"
    body: bytes = b'{"error": {"code": "service_unavailable", "message": "Scripted by the test proxy."}}'


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    at: float
    upstream_status: int | None = None
    upstream_body: bytes = b""


@dataclass
class Proxy:
    upstream: str
    script: list[Step] = field(default_factory=list)
    methods: frozenset[str] = frozenset({"POST"})
    """The script applies to these methods; other requests are forwarded as they are."""
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self
        target = urlsplit(self.upstream)
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                seen = Seen(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()
                )
                with proxy._lock:
                    proxy.seen.append(seen)
                    step = proxy.script.pop(0) if self.command in proxy.methods and proxy.script else None
                if step is not None and step.kind == "answer":
                    headers = {"content-type": "application/json"}
                    if step.retry_after is not None:
                        headers["retry-after"] = step.retry_after
                    self._answer(step.status, headers, step.body)
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                seen.upstream_status, seen.upstream_body = resp.status, resp.read()
                conn.close()
                if step is not None and step.kind == "drop":
                    self.close_connection = True  # the stack answered; the caller never hears it
                    return
                kept = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP}
                self._answer(resp.status, kept, seen.upstream_body)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def requests(self, method: str, path_part: str = "") -> list[Seen]:
        return [s for s in self.seen if s.method == method and path_part in s.path]

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
