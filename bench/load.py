"""The local stack under load: N jobs submitted concurrently over HTTP, each announced by webhook
to a receiver on 127.0.0.1; against the ceiling of moto answering the same AWS calls directly."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.e2e.client import LocalStackProcess
from tests.receiver import Receiver

ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def local_stack(jobs: int = 1000, clients: int = 32) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="load-"))
    with LocalStackProcess(ROOT / "template.yaml", work) as stack, Receiver() as rx:
        stack.extra_args = []
        key = stack.create_key("load")
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        adapter = requests.adapters.HTTPAdapter(pool_connections=clients, pool_maxsize=clients)
        http.mount("http://", adapter)
        base = f"{stack.base_url}/v2/tenants/load"
        assert (
            http.post(f"{base}/webhooks", json={"url": rx.url, "events": ["job.succeeded"]}).status_code
            == 201
        )
        started = time.time()

        def submit(_: int) -> str:
            reply = http.post(f"{base}/diagnostic/run", json={"steps": 1})
            assert reply.status_code == 202, reply.text
            return str(reply.json()["job_id"])

        with ThreadPoolExecutor(clients) as pool:
            ids = list(pool.map(submit, range(jobs)))
        submitted = time.time()
        deadline = time.time() + 600
        while True:
            # each job's first webhook, when it arrived (read from what the receiver recorded: a
            # handler reading "the last request" races the other handler threads)
            arrivals: dict[str, float] = {}
            for request in list(rx.received):
                arrivals.setdefault(json.loads(request.body)["data"]["job_id"], request.at)
            if len(arrivals) >= jobs:
                break
            assert time.time() < deadline, f"only {len(arrivals)} of {jobs} webhooks arrived"
            time.sleep(0.2)
        done = max(arrivals.values())
        records: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            page = http.get(
                f"{base}/jobs", params={"limit": 100, **({"cursor": cursor} if cursor else {})}
            ).json()
            records.update({j["job_id"]: j for j in page["jobs"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
        run_to_done = [
            (_epoch(records[j]["finished_at"]) - _epoch(records[j]["created_at"])) * 1000 for j in ids
        ]
        to_webhook = [(arrivals[j] - _epoch(records[j]["finished_at"])) * 1000 for j in ids]
        return {
            "jobs": jobs,
            "clients": clients,
            "submit_s": submitted - started,
            "jobs_per_s": jobs / (done - started),
            "submit_to_succeeded_p50_ms": _pct(run_to_done, 50),
            "submit_to_succeeded_p99_ms": _pct(run_to_done, 99),
            "completion_to_webhook_p50_ms": _pct(to_webhook, 50),
            "completion_to_webhook_p99_ms": _pct(to_webhook, 99),
        }


# What one job's lifecycle asks of AWS (as `bench/cost.py` counts it, plus the poller's receive and
# delete): run 2, executor 6 (receive, read, claim, finish, event, delete), fan-out 3, status 1.
CALLS_PER_JOB = 12


def moto_ceiling(jobs: int = 200, clients: int = 8) -> dict[str, Any]:
    """Jobs/s if moto did nothing but answer the AWS calls one job's lifecycle makes."""
    import logging

    from moto.server import ThreadedMotoServer

    from devstack.server import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = free_port("127.0.0.1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        kw = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        ddb, sqs, events = (
            boto3.client("dynamodb", **kw),
            boto3.client("sqs", **kw),
            boto3.client("events", **kw),
        )
        ddb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        events.create_event_bus(Name="b")
        lock = threading.Lock()

        def lifecycle(n: int) -> None:
            key = {"pk": {"S": "load"}, "sk": {"S": f"job{n}"}}
            ddb.put_item(TableName="t", Item={**key, "status": {"S": "queued"}})  # run
            sqs.send_message(QueueUrl=url, MessageBody="x")
            with lock:
                msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
            ddb.get_item(TableName="t", Key=key, ConsistentRead=True)  # executor
            for status in ("in_progress", "succeeded"):  # claim, finish
                ddb.update_item(
                    TableName="t",
                    Key=key,
                    UpdateExpression="SET #s = :s",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":s": {"S": status}},
                )
            events.put_events(
                Entries=[{"EventBusName": "b", "Source": "s", "DetailType": "d", "Detail": "{}"}]
            )
            for m in msgs:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            ddb.query(
                TableName="t",
                KeyConditionExpression="pk = :p AND sk = :s",  # webhook fan-out: the subscriptions
                ExpressionAttributeValues={":p": {"S": "load"}, ":s": {"S": "sub"}},
            )
            delivery = {"pk": {"S": "sub"}, "sk": {"S": f"d{n}"}}
            ddb.get_item(TableName="t", Key=delivery, ConsistentRead=True)  # the delivery, if any
            ddb.put_item(TableName="t", Item=delivery)  # written once, with its first attempt's result
            ddb.get_item(TableName="t", Key=key, ConsistentRead=True)  # status poll

        started = time.time()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lifecycle, range(jobs)))
        elapsed = time.time() - started
        return {
            "jobs": jobs,
            "calls_per_job": CALLS_PER_JOB,
            "jobs_per_s": jobs / elapsed,
            "requests_per_s": jobs * CALLS_PER_JOB / elapsed,
        }
    finally:
        server.stop()
