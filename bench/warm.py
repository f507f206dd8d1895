"""Warm overhead: CPU time the run and status functions spend per request outside AWS calls
(routing, validation, the domain, JSON, logging, metrics), measured in-process on warm handlers
with every AWS SDK call's own CPU time (moto's emulation included) subtracted."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from botocore.client import BaseClient


def measure(requests: int = 300) -> dict[str, float]:
    from devstack import template
    from tests.support import ROOT, Harness

    spent = [0.0]
    original = BaseClient._make_api_call

    def timed(self: Any, operation: str, params: dict[str, Any]) -> Any:
        started = time.process_time()
        try:
            return original(self, operation, params)
        finally:
            spent[0] += time.process_time() - started

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(BaseClient, "_make_api_call", timed)
    try:
        with Harness.start(template.load(ROOT / "template.yaml"), monkeypatch) as h:
            job_id = h.submit()

            def run() -> None:
                assert h.run("acme", "/diagnostic", {"steps": 2}).status == 202

            def status() -> None:
                assert h.status("acme", "/diagnostic", job_id).status == 200

            results = {}
            for name, call in (("run", run), ("status", status)):
                for _ in range(20):
                    call()  # warm: imports, schemas, clients
                samples = []
                for _ in range(requests):
                    spent[0] = 0.0
                    started = time.process_time()
                    call()
                    samples.append((time.process_time() - started - spent[0]) * 1000)
                results[name] = statistics.median(samples)
            return results
    finally:
        monkeypatch.undo()
