"""Cost per job: every AWS request of one job's lifecycle (one run, one status poll, the execution,
one webhook delivery), counted on the functions' own clients against moto, priced at us-east-1
list prices; beside it, the same lifecycle orchestrated by Step Functions Standard.

DynamoDB units come from item sizes (on demand: a write unit per started KB, a read unit per 4 KB
strongly consistent, half that eventually consistent). Lambda GB-s use each invocation's measured
duration here (moto answering in-process, a few ms per call, close to DynamoDB's own latency) and
the memory the template gives the function. Requests a poller makes to SQS (receive, delete) and
the API Gateway requests are counted from the lifecycle's shape.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from typing import Any

import boto3
import pytest

# us-east-1 list prices (checked 2026-11; see FIELD_NOTES.md)
PRICE = {
    "apigw_http_request": 1.00 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s_arm": 0.0000133334,
    "sqs_request": 0.40 / 1e6,
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "eventbridge_event": 1.00 / 1e6,
    "sfn_transition": 25.00 / 1e6,
}
# A Step Functions Standard workflow doing the same: start, mark running, run the action (Lambda),
# store the result, publish the event, end: 6 state transitions. It replaces the queue and the
# executor's own bookkeeping reads, not the API, the job writes or the event.
SFN_TRANSITIONS = 6


def item_size(value: Any) -> int:
    """DynamoDB's item size: attribute names plus values, in bytes (close to AWS's formula)."""
    if (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS")
    ):
        ((kind, v),) = value.items()
        if kind == "S":
            return len(v.encode())
        if kind == "N":
            return math.ceil(len(v.lstrip("-").replace(".", "")) / 2) + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + item_size(x) + 1 for k, x in v.items())
        if kind == "L":
            return 3 + sum(item_size(x) + 1 for x in v)
        return sum(len(str(x)) for x in v)
    return sum(len(k.encode()) + item_size(v) for k, v in value.items())


class Meter:
    """Counts requests by service and operation, and DynamoDB units, on every client created
    from the default boto3 session (the functions' clients)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.wru = 0.0
        self.rru = 0.0
        self.invocations: Counter[str] = Counter()
        self.gb_s = 0.0

    def attach(self, session: Any) -> None:
        session.events.register("before-parameter-build", self._before)
        session.events.register("after-call", self._after)

    @staticmethod
    def _before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["meter_params"] = dict(params)

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        op = model.name
        self.calls[(service, op)] += 1
        if service != "dynamodb":
            return
        req = context.get("meter_params") or {}
        if op == "PutItem":
            self.wru += math.ceil(item_size(req["Item"]) / 1024)
        elif op == "UpdateItem":
            self.wru += math.ceil(max(1, item_size(parsed.get("Attributes") or {})) / 1024)
        elif op == "DeleteItem":
            self.wru += 1
        elif op == "TransactWriteItems":
            self.wru += 2 * len(req.get("TransactItems", []))
        elif op == "GetItem":
            units = math.ceil(max(1, item_size(parsed.get("Item") or {})) / 4096)
            self.rru += units if req.get("ConsistentRead") else units / 2
        elif op == "Query":
            size = sum(item_size(i) for i in parsed.get("Items", []))
            units = max(1, math.ceil(size / 4096))
            self.rru += units if req.get("ConsistentRead") else units / 2

    def timed(self, name: str, memory_mb: int, fn: Any) -> Any:
        def call(event: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(event, context)
            finally:
                billed_ms = math.ceil((time.perf_counter() - started) * 1000)
                self.invocations[name] += 1
                self.gb_s += billed_ms / 1000 * memory_mb / 1024

        return call


def lifecycle(harness: Any, receiver_url: str) -> None:
    """One job: run, one status poll, execution, webhook delivery."""
    job_id = harness.submit(body={})
    assert harness.status("acme", "/diagnostic", job_id).status == 200
    harness.execute()
    harness.pump()
    assert harness.item("acme", job_id)["status"] == "succeeded"
    del receiver_url


def measure(prefill: int = 100) -> dict[str, Any]:
    from devstack import template
    from tests.receiver import Receiver
    from tests.support import ROOT, Harness

    translated = template.load(ROOT / "template.yaml")
    monkeypatch = pytest.MonkeyPatch()
    try:
        with Harness.start(translated, monkeypatch) as h, Receiver() as rx:
            assert (
                h.request(
                    "POST", "/v2/tenants/acme/webhooks", body={"url": rx.url, "events": ["job.succeeded"]}
                ).status
                == 201
            )
            _prefill(h, prefill)
            monkeypatch.setenv("PROGRESS_INTERVAL_SECONDS", "1")  # the deployed default, not the tests' 0
            meter = Meter()
            boto3.setup_default_session(region_name="us-east-1")
            from asyncjobs.aws import clients as aws
            from asyncjobs.services import reset_services

            reset_services()
            aws.reset_clients()
            meter.attach(boto3.DEFAULT_SESSION)
            for name, fn in list(h.handlers.items()):
                h.handlers[name] = meter.timed(name, h.stack.functions[name].memory, fn)
            jobs = 20
            for _ in range(jobs):
                lifecycle(h, rx.url)
            assert len(rx.received) == jobs
            return price(meter, jobs, prefill)
    finally:
        monkeypatch.undo()


def _prefill(h: Any, count: int) -> None:
    """Other jobs of the same tenant already in the table."""
    from asyncjobs.jobs.ids import new_job_id

    table = h.env["JOBS_TABLE"]
    now = int(time.time())
    for start in range(0, count, 25):
        batch = [
            {
                "PutRequest": {
                    "Item": {
                        "tenant_id": {"S": "acme"},
                        "job_id": {"S": new_job_id()},
                        "tenant_action": {"S": "acme#diagnostic"},
                        "action": {"S": "diagnostic"},
                        "status": {"S": "succeeded"},
                        "created_at": {"N": str(now)},
                        "expires_at": {"N": str(now + 86400)},
                        "input_json": {"S": "{}"},
                        "progress": {"N": "100"},
                        "attempts": {"N": "1"},
                        "result_json": {"S": json.dumps({"steps": 4})},
                    }
                }
            }
            for _ in range(min(25, count - start))
        ]
        h.ddb.batch_write_item(RequestItems={table: batch})


def price(meter: Meter, jobs: int, prefill: int) -> dict[str, Any]:
    per = {k: v / jobs for k, v in meter.calls.items()}
    sqs_requests = sum(v for (s, _), v in per.items() if s == "sqs")
    # Lambda's poller receives and deletes each message (batch size 1): two more SQS requests per send.
    sqs_sends = sum(v for (s, op), v in per.items() if s == "sqs" and op == "SendMessage")
    sqs_total = sqs_requests + 2 * sqs_sends
    api_requests = 2  # one run, one status poll
    lambda_requests = sum(meter.invocations.values()) / jobs
    events = per.get(("events", "PutEvents"), 0)
    lines = {
        "API Gateway (HTTP API)": api_requests * PRICE["apigw_http_request"],
        "Lambda requests": lambda_requests * PRICE["lambda_request"],
        "Lambda GB-s (arm64)": meter.gb_s / jobs * PRICE["lambda_gb_s_arm"],
        "SQS": sqs_total * PRICE["sqs_request"],
        "DynamoDB writes": meter.wru / jobs * PRICE["ddb_wru"],
        "DynamoDB reads": meter.rru / jobs * PRICE["ddb_rru"],
        "EventBridge": events * PRICE["eventbridge_event"],
    }
    total = sum(lines.values())
    job_queue_sqs = 3 * PRICE["sqs_request"]
    executor_share = meter.invocations.get("ExecutorFunction", 0) / jobs * PRICE["lambda_request"]
    sfn = (
        total
        - job_queue_sqs
        - executor_share
        + SFN_TRANSITIONS * PRICE["sfn_transition"]
        + PRICE["lambda_request"]
    )
    return {
        "prefill": prefill,
        "requests_per_job": {f"{s}:{op}": round(v, 2) for (s, op), v in sorted(per.items())},
        "sqs_requests_per_job": sqs_total,
        "lambda_invocations_per_job": {k: v / jobs for k, v in meter.invocations.items()},
        "ddb_wru_per_job": meter.wru / jobs,
        "ddb_rru_per_job": meter.rru / jobs,
        "usd_per_million": {k: round(v * 1e6, 3) for k, v in lines.items()},
        "total_usd_per_million": round(total * 1e6, 2),
        "step_functions_usd_per_million": round(sfn * 1e6, 2),
    }
