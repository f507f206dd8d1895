"""A real webhook receiver: an HTTP server on 127.0.0.1 that records what arrives and answers as
scripted (e.g. three 500s, then 200), or misbehaves as scripted: trickles its answer a byte at a
time, never answers, or answers with something that is not HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)
    """When it arrived (epoch seconds)."""


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    trickle_s: float | None = None
    """Send the status line, then one byte of headers every `trickle_s` seconds, never finishing
    (until the sender hangs up or the receiver stops)."""
    hang: bool = False
    """Read the request, then never answer (until the sender hangs up or the receiver stops)."""
    garbage: bool = False
    """Answer with bytes that are not HTTP, then close the connection."""
    before: Callable[[], object] | None = None
    """Called once the request has arrived, before answering: something that happens while the
    sender waits for the answer (e.g. the subscription is deleted meanwhile)."""


class Receiver:
    def __init__(self, answers: list[Answer] | None = None, default: Answer | None = None) -> None:
        self.received: list[Received] = []
        self.answers = list(answers or [])
        self.default = default or Answer(200)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                if answer.before is not None:
                    answer.before()
                if answer.hang:
                    receiver._stopped.wait()
                    self.close_connection = True
                    return
                if answer.garbage:
                    self.wfile.write(b"\x00\xffthis is not HTTP at all\r\n\r\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if answer.trickle_s is not None:
                    self._trickle(answer.trickle_s)
                    return
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def _trickle(self, every_s: float) -> None:
                self.close_connection = True
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    self.wfile.flush()
                    while not receiver._stopped.wait(every_s):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                except OSError:
                    return  # the sender hung up

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a receiver that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"
