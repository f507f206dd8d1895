"""Listing cost: DynamoDB requests, read units and latency of pages of a tenant's jobs, with
`prefill` jobs in the table and each DynamoDB request taking `latency_ms` more (moto answers
in-process; DynamoDB takes a few ms a request). `python -m bench.listing`."""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

for key, value in (
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(key, value)

import boto3  # noqa: E402
import moto  # noqa: E402,F401  (before any boto3 client)
import pytest  # noqa: E402

from bench.cost import Meter, _prefill  # noqa: E402


class _JobsMeter(Meter):
    """The Meter, counting only requests to the jobs table (not the authorizer's key lookups)."""

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table = table

    def _count(self, model: Any, parsed: dict[str, Any], context: dict[str, Any]) -> None:
        req = context.get("meter_params") or {}
        if req.get("TableName") == self.table or self.table in req.get("RequestItems", {}):
            super()._count(model, parsed, context)


def measure(
    prefill: int = 1000, latency_ms: float = 8.0, limit: int = 20, repeat: int = 5, sequential: bool = False
) -> list[dict[str, Any]]:
    from asyncjobs.aws import clients as aws
    from asyncjobs.services import reset_services
    from devstack import template
    from tests.support import ROOT, Harness

    monkeypatch = pytest.MonkeyPatch()
    rows = []
    try:
        with Harness.start(template.load(ROOT / "template.yaml"), monkeypatch) as h:
            _prefill(h, prefill)
            if sequential:  # the shards' Queries one after another, for comparison
                from asyncjobs.aws import sharded

                monkeypatch.setattr(sharded, "run_all", lambda tasks: [task() for task in tasks])
            meter = _JobsMeter(h.env["JOBS_TABLE"])
            boto3.setup_default_session(region_name="us-east-1")
            reset_services()
            aws.reset_clients()
            meter.attach(boto3.DEFAULT_SESSION)
            boto3.DEFAULT_SESSION.events.register(
                "before-call.dynamodb", lambda **_: time.sleep(latency_ms / 1000)
            )
            first = h.request("GET", "/v2/tenants/acme/jobs", query={"limit": str(limit)}).body
            pages = {
                "newest page": {},
                "next page": {"cursor": first["next_cursor"]},
                "by action": {"action": "diagnostic"},
                "by status": {"status": "succeeded"},
            }
            for name, query in pages.items():
                times = []
                for _ in range(repeat):
                    calls, rru = meter.calls.copy(), meter.rru
                    started = time.perf_counter()
                    reply = h.request("GET", "/v2/tenants/acme/jobs", query={"limit": str(limit), **query})
                    times.append((time.perf_counter() - started) * 1000)
                    assert reply.status == 200 and len(reply.body["jobs"]) == limit, reply.body
                    used = meter.calls - calls
                    read_units = meter.rru - rru
                rows.append(
                    {
                        "page": name,
                        "requests": {op: n for (_, op), n in sorted(used.items())},
                        "read_units": read_units,
                        "ms_median": statistics.median(times),
                    }
                )
    finally:
        monkeypatch.undo()
    return rows


if __name__ == "__main__":
    # python -m bench.listing [latency_ms] [prefill] [sequential]
    args = sys.argv[1:]
    for row in measure(
        latency_ms=float(args[0]) if args else 8.0,
        prefill=int(args[1]) if len(args) > 1 else 1000,
        sequential=len(args) > 2 and args[2] == "sequential",
    ):
        print(row)
