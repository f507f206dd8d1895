"""Readable one-line logs for the local stack: its own events, and the functions' JSON logs."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TextIO

# Keys of a structured log line worth showing after its message, in this order.
_SHOWN = ("job_id", "tenant_id", "action", "status", "attempt", "receive_count", "reason")
_COLORS = {"ERROR": "\033[31m", "WARNING": "\033[33m", "CRITICAL": "\033[31m"}


class LogSink:
    def __init__(self, stream: TextIO | None = None, raw: bool = False) -> None:
        self._stream = stream or sys.stdout
        self._raw = raw
        self._color = hasattr(self._stream, "isatty") and self._stream.isatty()
        self._lock = threading.Lock()

    def _emit(self, text: str, level: str = "INFO") -> None:
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
        line = f"{stamp} {text}"
        if self._color and level in _COLORS:
            line = f"{_COLORS[level]}{line}\033[0m"
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def info(self, text: str) -> None:
        self._emit(text)

    def warning(self, text: str) -> None:
        self._emit(text, "WARNING")

    def function_output(self, function: str, line: str) -> None:
        """One line a function printed: structured logs are condensed, metrics are hidden."""
        if self._raw:
            self._emit(f"{function} {line}")
            return
        if not line.startswith("{"):
            if line.strip():
                self._emit(f"{function} {line}")
            return
        try:
            doc = json.loads(line)
        except ValueError:
            self._emit(f"{function} {line}")
            return
        if "_aws" in doc:  # CloudWatch embedded metrics: not a log line
            return
        level = str(doc.get("level", "INFO"))
        extras = " ".join(f"{k}={doc[k]}" for k in _SHOWN if doc.get(k) not in (None, ""))
        text = f"{function} {level:<7} {doc.get('message', '')}"
        if extras:
            text += f"  {extras}"
        exc = doc.get("exception")
        if exc and level in ("ERROR", "CRITICAL"):
            text += f"\n    {str(exc).strip().splitlines()[-1]}"
        self._emit(text, level)
