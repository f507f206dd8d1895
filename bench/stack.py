"""A moto server with the template's resources, and real-shaped first events for each function."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from devstack.functions import function_environment
from devstack.lambda_runtime import http_event, sqs_event
from devstack.provision import Stack, provision
from devstack.server import free_port
from devstack.template import load

ROOT = Path(__file__).resolve().parent.parent
PARAMETERS = {"WebhookRequireHttps": "false", "WebhookAllowedNetworks": "127.0.0.0/8"}
TENANT = "bench"


@dataclass
class BenchStack:
    stack: Stack
    endpoint: str
    session: Any
    key: str
    key_id: str

    def env(self, function: str) -> dict[str, str]:
        spec = self.stack.functions[function]
        env = function_environment(spec, "us-east-1", self.endpoint)
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # the deployed code directory is read-only
        return env

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    def _auth(self, event: dict[str, Any]) -> dict[str, Any]:
        event["headers"]["authorization"] = f"Bearer {self.key}"
        event["requestContext"]["authorizer"] = {"lambda": {"tenant_id": TENANT, "key_id": self.key_id}}
        return event

    def queued_job(self) -> str:
        """A job stored and queued as the run function would, for an executor's first event."""
        from asyncjobs.actions.registry import ACTIONS
        from asyncjobs.jobs.ids import new_job_id
        from asyncjobs.jobs.models import Job, JobStatus
        from asyncjobs.jobs.store import JobStore

        now = time.time()
        job = Job(
            TENANT,
            new_job_id(),
            "diagnostic",
            JobStatus.QUEUED,
            now,
            int(now) + 7 * 86400,
            input_json=ACTIONS["diagnostic"].input_model().model_dump_json(),
        )
        JobStore(self.client("dynamodb"), self.stack.outputs["JobsTableName"]).create(job)
        return job.job_id

    def first_event(self, function: str) -> tuple[dict[str, Any], Any]:
        """(event, what a correct answer looks like) for one function's first invocation."""
        if function == "RunFunction":
            ev = http_event(
                "POST",
                f"/v2/tenants/{TENANT}/diagnostic/run",
                route_key="POST /v2/tenants/{tenant_id}/{proxy+}",
                path_parameters={"tenant_id": TENANT, "proxy": "diagnostic/run"},
                headers={"content-type": "application/json"},
                body=b'{"steps": 1}',
            )
            return self._auth(ev), 202
        if function == "StatusFunction":
            job_id = self.queued_job()
            ev = http_event(
                "GET",
                f"/v2/tenants/{TENANT}/diagnostic/status",
                route_key="GET /v2/tenants/{tenant_id}/{proxy+}",
                path_parameters={"tenant_id": TENANT, "proxy": "diagnostic/status"},
                query=f"job_id={job_id}",
            )
            return self._auth(ev), 200
        if function == "WebhooksFunction":
            ev = http_event(
                "GET",
                f"/v2/tenants/{TENANT}/webhooks",
                route_key="ANY /v2/tenants/{tenant_id}/webhooks",
                path_parameters={"tenant_id": TENANT},
            )
            return self._auth(ev), 200
        if function == "HavenFunction":
            # A Haven caller polling its job: the key is a query parameter, checked by the function.
            job_id = self.queued_job()
            ev = http_event(
                "GET",
                f"/1/job/status/{job_id}",
                route_key="ANY /1/{proxy+}",
                path_parameters={"proxy": f"job/status/{job_id}"},
                query=f"apikey={self.key}",
            )
            return ev, 200
        if function == "ReconcilerFunction":
            # A run's message that used up its receives: the reconciler ends the job (failed) and
            # announces it.
            job_id = self.queued_job()
            msg = {
                "MessageId": "bench",
                "ReceiptHandle": "bench",
                "Body": json.dumps({"tenant_id": TENANT, "job_id": job_id}),
                "MD5OfBody": "",
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
            return sqs_event([msg], "arn:aws:sqs:us-east-1:123456789012:bench-dlq", "us-east-1"), {
                "batchItemFailures": []
            }
        if function == "AuthorizerFunction":
            ev = self._auth(
                http_event(
                    "GET", f"/v2/tenants/{TENANT}/jobs", route_key="GET /v2/tenants/{tenant_id}/{proxy+}"
                )
            )
            ev.update({"type": "REQUEST", "identitySource": [f"Bearer {self.key}"]})
            return ev, {"isAuthorized": True, "context": {"tenant_id": TENANT, "key_id": self.key_id}}
        if function in ("ExecutorFunction", "ScienceExecutorFunction"):  # the same code, two queues
            job_id = self.queued_job()
            body = json.dumps({"tenant_id": TENANT, "job_id": job_id})
            msg = {
                "MessageId": "bench",
                "ReceiptHandle": "bench",
                "Body": body,
                "MD5OfBody": "",
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
            return sqs_event([msg], "arn:aws:sqs:us-east-1:123456789012:bench", "us-east-1"), {
                "batchItemFailures": []
            }
        if function == "WebhookDeliveryFunction":
            from asyncjobs.jobs.ids import new_job_id

            job_id = new_job_id()
            detail = {
                "event_id": f"{job_id}.succeeded",
                "tenant_id": TENANT,
                "job_id": job_id,
                "action": "diagnostic",
                "status": "succeeded",
                "path_params": {},
                "created_at": None,
                "started_at": None,
                "finished_at": None,
                "result": {},
            }
            ev = {
                "version": "0",
                "id": "bench",
                "detail-type": "Job Succeeded",
                "source": "asyncjobs",
                "account": "123456789012",
                "time": "2026-11-22T00:00:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": detail,
            }
            return ev, None
        raise KeyError(function)


# The AWS clients each function's first event needs: the floor it is compared with.
CLIENTS = {
    "RunFunction": ["dynamodb", "sqs"],
    "StatusFunction": ["dynamodb"],
    "ExecutorFunction": ["dynamodb", "events"],
    "ScienceExecutorFunction": ["dynamodb", "events"],
    "AuthorizerFunction": ["dynamodb"],
    "WebhooksFunction": ["dynamodb"],
    "WebhookDeliveryFunction": ["dynamodb"],
    "HavenFunction": ["dynamodb"],
    "ReconcilerFunction": ["dynamodb", "events"],
}


@contextlib.contextmanager
def bench_stack() -> Iterator[BenchStack]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(k, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port("127.0.0.1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        session = boto3.Session(region_name="us-east-1")
        stack = provision(
            load(ROOT / "template.yaml", PARAMETERS),
            session=session,
            stack_name="bench",
            endpoint_url=endpoint,
            parameters=PARAMETERS,
        )
        from asyncjobs.tenancy.tenants import Tenants

        tenants = Tenants(
            session.client("dynamodb", endpoint_url=endpoint), stack.outputs["TenantsTableName"]
        )
        tenants.create_tenant(TENANT)
        key_id, key = tenants.create_key(TENANT, "bench")
        yield BenchStack(stack, endpoint, session, key, key_id)
    finally:
        server.stop()
