"""Cost per job: every AWS request of one job's lifecycle (one run, one status poll, the execution,
one webhook delivery), counted on the functions' own clients against moto, priced at us-east-1
list prices; beside it, the same lifecycle orchestrated by Step Functions Standard. The same count
for a 3-action job (one run, one status, three executions, one webhook) and for a sync call (one
run with `Prefer: wait`, answered with the finished job, no status call), and the cost of a
status call that waits on a job that does not end, per second waited.

DynamoDB units come from item sizes (on demand: a write unit per started KB, a read unit per 4 KB
strongly consistent, half that eventually consistent). Lambda GB-s use each invocation's measured
duration here (moto answering in-process, a few ms per call, close to DynamoDB's own latency) and
the memory the template gives the function. Requests a poller makes to SQS (receive, delete) and
the API Gateway requests are counted from the lifecycle's shape.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
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
        self.batched_messages = 0  # messages sent inside SendMessageBatch requests
        self.durations_ms: dict[str, list[int]] = {}  # billed duration of each invocation, by function
        self.index_wru = 0.0  # write units the tables' secondary indexes consume (counted in wru too)
        # the sync lifecycle runs the executor on another thread while the run function waits
        self._lock = threading.Lock()
        self._indexes = IndexWrites()
        self._local = threading.local()  # seconds the meter itself spent inside the current invocation

    def attach(self, session: Any, raw_ddb: Any | None = None) -> None:
        """Meters every client of `session`. With `raw_ddb` (a DynamoDB client of another session),
        also counts the write units secondary indexes consume, from each written item's images
        before and after the write (the meter's own reads are not counted, nor billed as duration)."""
        if raw_ddb is not None:
            self._indexes.load(raw_ddb)
        session.events.register("before-parameter-build", self._before)
        session.events.register("before-call", self._before_call)
        session.events.register("after-call", self._after)

    @staticmethod
    def _before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["meter_params"] = dict(params)

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name == "dynamodb" and self._indexes.tables:
            started = time.perf_counter()
            context["meter_images"] = self._indexes.before(model.name, context.get("meter_params") or {})
            self._local.overhead = getattr(self._local, "overhead", 0.0) + time.perf_counter() - started

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        started = time.perf_counter()
        index_units = 0.0
        if context.get("meter_images") and "Error" not in parsed:
            index_units = self._indexes.after(context["meter_images"])
        with self._lock:
            self._count(model, parsed, context)
            self.wru += index_units
            self.index_wru += index_units
        self._local.overhead = getattr(self._local, "overhead", 0.0) + time.perf_counter() - started

    def _count(self, model: Any, parsed: dict[str, Any], context: dict[str, Any]) -> None:
        service = model.service_model.service_name
        op = model.name
        self.calls[(service, op)] += 1
        req = context.get("meter_params") or {}
        if op == "SendMessageBatch":
            self.batched_messages += len(req.get("Entries", []))
        if service != "dynamodb":
            return
        if op == "PutItem":
            self.wru += math.ceil(item_size(req["Item"]) / 1024)
        elif op == "UpdateItem":
            self.wru += math.ceil(max(1, item_size(parsed.get("Attributes") or {})) / 1024)
        elif op == "DeleteItem":
            self.wru += 1
        elif op == "TransactWriteItems":
            # a transactional write costs two write units per started KB of each item
            for entry in req.get("TransactItems", []):
                ((_, spec),) = entry.items()
                self.wru += 2 * math.ceil(max(1, item_size(spec.get("Item") or {})) / 1024)
        elif op == "GetItem":
            units = math.ceil(max(1, item_size(parsed.get("Item") or {})) / 4096)
            self.rru += units if req.get("ConsistentRead") else units / 2
        elif op == "BatchGetItem":
            # each item read is rounded up to 4 KB on its own
            for table, spec in req.get("RequestItems", {}).items():
                for item in parsed.get("Responses", {}).get(table, []):
                    units = math.ceil(max(1, item_size(item)) / 4096)
                    self.rru += units if spec.get("ConsistentRead") else units / 2
        elif op == "Query":
            size = sum(item_size(i) for i in parsed.get("Items", []))
            units = max(1, math.ceil(size / 4096))
            self.rru += units if req.get("ConsistentRead") else units / 2

    def timed(self, name: str, memory_mb: int, fn: Any) -> Any:
        def call(event: Any, context: Any) -> Any:
            started = time.perf_counter()
            self._local.overhead = 0.0
            try:
                return fn(event, context)
            finally:
                spent = time.perf_counter() - started - self._local.overhead
                billed_ms = math.ceil(max(0.0, spent) * 1000)
                with self._lock:
                    self.invocations[name] += 1
                    self.gb_s += billed_ms / 1000 * memory_mb / 1024
                    self.durations_ms.setdefault(name, []).append(billed_ms)

        return call


class IndexWrites:
    """Write units a table's global secondary indexes consume, which no response reports: DynamoDB
    writes an index when a written item enters it, leaves it, changes one of its keys (a delete and
    a put) or changes an attribute the index projects, each at a write unit per started KB of the
    projected item. Computed from the item before and after each write, read with a client the
    meter does not count."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {}
        self._ddb: Any = None

    def load(self, ddb: Any) -> None:
        self._ddb = ddb
        for name in ddb.list_tables()["TableNames"]:
            table = ddb.describe_table(TableName=name)["Table"]
            indexes = table.get("GlobalSecondaryIndexes") or []
            if indexes:
                self.tables[name] = {
                    "key": [k["AttributeName"] for k in table["KeySchema"]],
                    "indexes": [
                        (
                            [k["AttributeName"] for k in ix["KeySchema"]],
                            ix["Projection"]["ProjectionType"],
                            ix["Projection"].get("NonKeyAttributes", []),
                        )
                        for ix in indexes
                    ],
                }

    def _targets(self, op: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(table, key) of each item the request writes, for tables with indexes."""
        if op == "TransactWriteItems":
            entries = [next(iter(e.items())) for e in params.get("TransactItems", [])]
            writes = [(k, spec) for k, spec in entries if k in ("Put", "Update", "Delete")]
        elif op in ("PutItem", "UpdateItem", "DeleteItem"):
            writes = [(op[:-4], params)]
        else:
            return []
        targets = []
        for kind, spec in writes:
            table = self.tables.get(spec.get("TableName", ""))
            if table is None:
                continue
            source = spec["Item"] if kind == "Put" else spec["Key"]
            targets.append((spec["TableName"], {a: source[a] for a in table["key"]}))
        return targets

    def _image(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        return self._ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") or {}

    def before(self, op: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        return [(table, key, self._image(table, key)) for table, key in self._targets(op, params)]

    def after(self, images: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> float:
        units = 0.0
        for table, key, old in images:
            new = self._image(table, key)
            spec = self.tables[table]
            for index_key, projection, non_key in spec["indexes"]:
                units += self._index_units(old, new, spec["key"] + index_key, index_key, projection, non_key)
        return units

    @staticmethod
    def _index_units(
        old: dict[str, Any],
        new: dict[str, Any],
        keys: list[str],
        index_key: list[str],
        projection: str,
        non_key: list[str],
    ) -> float:
        def projected(item: dict[str, Any]) -> dict[str, Any]:
            if projection == "ALL":
                return item
            names = set(keys) | (set(non_key) if projection == "INCLUDE" else set())
            return {k: v for k, v in item.items() if k in names}

        def units(item: dict[str, Any]) -> int:
            return math.ceil(max(1, item_size(projected(item))) / 1024)

        was = bool(old) and all(a in old for a in index_key)
        now = bool(new) and all(a in new for a in index_key)
        if was and now:
            if any(old[a] != new[a] for a in index_key):
                return units(old) + units(new)  # a key changed: a delete and a put
            return units(new) if projected(old) != projected(new) else 0
        if now:
            return units(new)
        if was:
            return units(old)
        return 0


def lifecycle(harness: Any) -> None:
    """One job: run, one status poll, execution, webhook delivery."""
    job_id = harness.submit(body={})
    assert harness.status("acme", "/diagnostic", job_id).status == 200
    harness.execute()
    harness.pump()
    assert harness.item("acme", job_id)["status"] == "succeeded"


def lifecycle_three_actions(harness: Any) -> None:
    """One 3-action job: one run (`POST …/jobs`), one status poll, three executions, one webhook."""
    actions = [{"name": "diagnostic", "params": {}}] * 3
    reply = harness.request("POST", "/v2/tenants/acme/jobs", body={"actions": actions})
    assert reply.status == 202, reply.body
    job_id = reply.body["job_id"]
    assert harness.request("GET", f"/v2/tenants/acme/jobs/{job_id}").status == 200
    harness.execute()
    harness.pump()
    assert harness.item("acme", job_id)["status"] == "succeeded"


def lifecycle_sync(harness: Any) -> None:
    """One sync call: run with `Prefer: wait=10`, answered 200 with the finished job (so no status
    poll), while the executor runs it; then its webhook."""
    reply = harness.run("acme", "/diagnostic", {}, headers={"prefer": "wait=10"})
    assert reply.status == 200 and reply.body["status"] == "succeeded", reply.body
    harness.pump()


class ExecutorLoop:
    """The executor polling its queue on another thread, as Lambda's poller does, while a request
    waits (stopped on exit)."""

    def __init__(self, harness: Any) -> None:
        self._harness = harness
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._harness.execute(retry_now=False):
                time.sleep(0.01)

    def __enter__(self) -> ExecutorLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


LIFECYCLES = {
    "one": (lifecycle, 2),  # (what one job does, API Gateway requests it makes)
    "three_actions": (lifecycle_three_actions, 2),
    "sync": (lifecycle_sync, 1),
}


@contextlib.contextmanager
def _metered(prefill: int) -> Iterator[tuple[Any, Any, Meter]]:
    """A harness (template resources in moto, functions in-process) with a webhook subscription,
    `prefill` other jobs, and every function's AWS calls and durations metered."""
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
            meter.attach(boto3.DEFAULT_SESSION, raw_ddb=h.ddb)
            for name, fn in list(h.handlers.items()):
                h.handlers[name] = meter.timed(name, h.stack.functions[name].memory, fn)
            yield h, rx, meter
    finally:
        monkeypatch.undo()


def measure(prefill: int = 100, kind: str = "one") -> dict[str, Any]:
    run_one, api_requests = LIFECYCLES[kind]
    with _metered(prefill) as (h, rx, meter):
        jobs = 20
        with ExecutorLoop(h) if kind == "sync" else contextlib.nullcontext():
            for _ in range(jobs):
                run_one(h)
        assert len(rx.received) == jobs  # one webhook per job, never one per action
        result = price(meter, jobs, prefill, api_requests)
        result["kind"] = kind
        run_ms = meter.durations_ms.get("RunFunction", [0])
        result["run_function_ms_p50"] = sorted(run_ms)[len(run_ms) // 2]
        return result


# A job for the waiting calls that never ends: queued, its message never delivered.
def waiting_cost(waits: tuple[int, ...] = (1, 5, 20)) -> dict[str, Any]:
    """What a status call waiting `Prefer: wait=N` on a job that does not end costs: its AWS
    requests (counted) and its billed duration (measured), for each N; then per second waited."""
    with _metered(0) as (h, _, meter):
        job_id = h.submit(body={})
        path = "/v2/tenants/acme/diagnostic/status"
        # once without a wait: the authorizer's first call (then cached) is not the wait's
        assert h.request("GET", path, query={"job_id": job_id}).status == 200
        memory_mb = h.stack.functions["StatusFunction"].memory
        rows = []
        for wait_s in (None, *waits):  # None: a plain status poll, for comparison
            before = Counter(meter.calls)
            prefer = {} if wait_s is None else {"prefer": f"wait={wait_s}"}
            reply = h.request("GET", path, query={"job_id": job_id}, headers=prefer)
            assert reply.status == 200 and reply.body["status"] == "queued", reply.body
            if wait_s is not None:
                assert reply.headers.get("Preference-Applied") == f"wait={wait_s}", reply.headers
            calls = {f"{s}:{op}": n for (s, op), n in (Counter(meter.calls) - before).items()}
            billed_ms = meter.durations_ms["StatusFunction"][-1]
            gets = calls.get("dynamodb:GetItem", 0)
            usd = (
                PRICE["apigw_http_request"]
                + PRICE["lambda_request"]
                + billed_ms / 1000 * memory_mb / 1024 * PRICE["lambda_gb_s_arm"]
                + gets * PRICE["ddb_rru"]  # strongly consistent reads of a job item under 4 KB
            )
            rows.append(
                {"wait_s": wait_s, "billed_ms": billed_ms, "calls": calls, "get_items": gets, "usd": usd}
            )
        poll, rows = rows[0], rows[1:]
        # the steady state, between the two longest waits: the first second reads more often
        first, last = rows[-2], rows[-1]
        seconds = (last["billed_ms"] - first["billed_ms"]) / 1000
        return {
            "memory_mb": memory_mb,
            "poll": poll,
            "rows": rows,
            # the steady state: what one more second of waiting adds
            "get_items_per_s": (last["get_items"] - first["get_items"]) / seconds,
            "usd_per_million_per_s": (last["usd"] - first["usd"]) / seconds * 1e6,
            "lambda_usd_per_million_per_s": memory_mb / 1024 * PRICE["lambda_gb_s_arm"] * 1e6,
        }


def _prefill(h: Any, count: int) -> None:
    """Other jobs of the same tenant already in the table."""
    from asyncjobs.jobs.ids import new_job_id
    from asyncjobs.jobs.store import action_index_key, job_key

    table = h.env["JOBS_TABLE"]
    now = int(time.time())
    for start in range(0, count, 25):
        ids = [new_job_id() for _ in range(min(25, count - start))]
        batch = [
            {
                "PutRequest": {
                    "Item": {
                        **job_key("acme", job_id),
                        "tenant_id": {"S": "acme"},
                        "tenant_action": {"S": action_index_key("acme", "diagnostic", job_id)},
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
            for job_id in ids
        ]
        h.ddb.batch_write_item(RequestItems={table: batch})


def price(meter: Meter, jobs: int, prefill: int, api_requests: int = 2) -> dict[str, Any]:
    per = {k: v / jobs for k, v in meter.calls.items()}
    sqs_requests = sum(v for (s, _), v in per.items() if s == "sqs")
    # Lambda's poller receives and deletes each message (batch size 1): two more SQS requests per
    # message, whether it was sent alone or in a SendMessageBatch (one request for up to 10 small
    # messages, billed per 64 KB chunk).
    sqs_sends = sum(v for (s, op), v in per.items() if s == "sqs" and op == "SendMessage")
    sqs_sends += meter.batched_messages / jobs
    sqs_total = sqs_requests + 2 * sqs_sends
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
        "ddb_index_wru_per_job": meter.index_wru / jobs,
        "ddb_rru_per_job": meter.rru / jobs,
        "usd_per_million": {k: round(v * 1e6, 3) for k, v in lines.items()},
        "total_usd_per_million": round(total * 1e6, 2),
        "step_functions_usd_per_million": round(sfn * 1e6, 2),
    }
