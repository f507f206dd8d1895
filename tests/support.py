"""Drives the functions the way AWS would, against a moto stack provisioned from template.yaml."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from asyncjobs.aws import clients as aws
from asyncjobs.services import get_services, reset_services
from asyncjobs.tenancy.tenants import Tenants
from devstack.authorizers import Authorizers
from devstack.lambda_runtime import (
    LambdaContext,
    aws_event,
    deliver_batch,
    http_event,
    json_body,
    target_input,
)
from devstack.provision import Stack, provision
from devstack.routes import http_routes, match_route
from devstack.template import Translated

ROOT = Path(__file__).resolve().parent.parent
# Receivers in tests listen on 127.0.0.1 over HTTP; webhook retries happen at once (time scale 0).
PARAMETERS = {
    "WebhookRequireHttps": "false",
    "WebhookAllowedNetworks": "127.0.0.0/8",
    "WebhookTimeScale": "0",
}
EVENTS = ROOT / "events"

# The function whose handler runs in this context (Harness.running).
_RUNNING: contextvars.ContextVar[str | None] = contextvars.ContextVar("running_function", default=None)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class Harness:
    """A provisioned stack, the API routed as the template routes it, and the queue poller."""

    def __init__(self, translated: Translated, stack: Stack) -> None:
        self.translated = translated
        self.stack = stack
        self.routes = http_routes(translated)
        self.session = boto3.Session(region_name=stack.region)
        self.ddb = self.session.client("dynamodb")
        self.sqs = self.session.client("sqs")
        self.events = self.session.client("events")
        self.s3 = self.session.client("s3")
        self.env = stack.functions["RunFunction"].environment
        from functions.authorizer import app as authorizer_app
        from functions.executor import app as executor_app
        from functions.haven import app as haven_app
        from functions.reconciler import app as reconciler_app
        from functions.run import app as run_app
        from functions.status import app as status_app
        from functions.webhook_delivery import app as webhook_delivery_app
        from functions.webhooks import app as webhooks_app

        handlers = {
            "RunFunction": run_app.handler,
            "StatusFunction": status_app.handler,
            "ExecutorFunction": executor_app.handler,
            "ScienceExecutorFunction": executor_app.handler,  # the same code, fed by the science queue
            "ReconcilerFunction": reconciler_app.handler,
            "AuthorizerFunction": authorizer_app.handler,
            "WebhooksFunction": webhooks_app.handler,
            "WebhookDeliveryFunction": webhook_delivery_app.handler,
            "HavenFunction": haven_app.handler,
        }
        self._running = _RUNNING
        self.handlers = {name: self._attributed(name, h) for name, h in handlers.items()}
        assert set(self.handlers) == set(stack.functions), "a function of the template has no handler here"
        self.authorizers = Authorizers(self._invoke)
        self.tenants = Tenants(self.ddb, self.env["TENANTS_TABLE"])
        self.keys: dict[str, str] = {}
        for tenant in ("acme", "globex"):
            self.tenants.create_tenant(tenant)
            self.keys[tenant] = self.tenants.create_key(tenant, "tests")[1]
        self.trigger = next(t for t in stack.queue_triggers if t.function == "ExecutorFunction")
        self._tap_url: str | None = None

    @classmethod
    @contextlib.contextmanager
    def start(cls, translated: Translated, monkeypatch: Any) -> Iterator[Harness]:
        with mock_aws():
            stack = provision(translated, session=boto3.Session(), stack_name="test", parameters=PARAMETERS)
            for fn in stack.functions.values():
                for key, value in fn.environment.items():
                    monkeypatch.setenv(key, value)
            monkeypatch.setenv("PROGRESS_INTERVAL_SECONDS", "0")
            reset_services()
            try:
                yield cls(translated, stack)
            finally:
                reset_services()

    def _attributed(self, function: str, handler: Any) -> Any:
        """Every invocation goes through here, so `running()` names the function whose handler
        runs on this thread, or on a thread it handed work to with its context (the shard Queries
        of a listing): tests/integration/test_iam.py attributes AWS calls with it."""

        def invoke(event: dict[str, Any], context: Any) -> Any:
            token = self._running.set(function)
            try:
                return handler(event, context)
            finally:
                self._running.reset(token)

        return invoke

    def running(self) -> str | None:
        """The function whose handler is running on this thread (or in this context), if any."""
        return self._running.get()

    # -- HTTP ------------------------------------------------------------------------------
    def _invoke(self, function: str, event: dict[str, Any]) -> tuple[bool, Any]:
        fn = self.stack.functions[function]
        try:
            return True, self.handlers[function](event, LambdaContext(fn.name, fn.memory, fn.timeout))
        except Exception:
            import traceback

            traceback.print_exc()
            return False, None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        key: str | None = "own",
    ) -> Reply:
        """An HTTP API request as API Gateway handles it (routing, authorizer, payload 2.0). `key`:
        "own" sends the API key of the tenant in the path, None sends no Authorization header."""
        found = match_route(self.routes, method, path)
        if found is None:
            return Reply(404, {}, {"message": "Not Found"})  # API Gateway's own 404
        route, params = found
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"content-type": "application/json", **(headers or {})}
        if key == "own":
            key = self.keys.get(params.get("tenant_id", ""), "ajk_none")
        if key is not None:
            hdrs["authorization"] = f"Bearer {key}"
        event = http_event(
            method,
            path,
            route_key=route.route_key,
            path_parameters=params,
            query=urlencode(query or {}),
            headers=hdrs,
            body=data,
        )
        denied = self.authorizers.authorize(route, event)
        if denied is not None:
            return Reply(denied.status, {}, {"message": denied.message})
        fn = self.stack.functions[route.function]
        resp = self.handlers[route.function](event, LambdaContext(fn.name, fn.memory, fn.timeout))
        return Reply(resp["statusCode"], resp.get("headers") or {}, json_body(resp))

    def haven(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        form: Any = None,
        files: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: int | None = None,
    ) -> Reply:
        """A request to the Haven routes (`/1/...`), its form (urlencoded, or multipart with
        `files`) encoded as `requests` encodes it. `timeout_s`: the function's remaining time at
        the start (its Timeout by default), which bounds how long it waits."""
        import requests

        prepared = requests.Request(method, "http://local" + path, data=form, files=files).prepare()
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        hdrs = {k.lower(): v for k, v in prepared.headers.items() if k.lower() == "content-type"}
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        found = match_route(self.routes, method, path)
        assert found is not None and found[0].function == "HavenFunction", path
        route, params = found
        event = http_event(
            method,
            path,
            route_key=route.route_key,
            path_parameters=params,
            query=urlencode(query or {}),
            headers=hdrs,
            body=body,
        )
        fn = self.stack.functions["HavenFunction"]
        context = LambdaContext(fn.name, fn.memory, timeout_s or fn.timeout)
        resp = self.handlers["HavenFunction"](event, context)
        return Reply(resp["statusCode"], resp.get("headers") or {}, json_body(resp))

    def run(self, tenant: str, action_path: str, body: Any, **kw: Any) -> Reply:
        return self.request("POST", f"/v2/tenants/{tenant}{action_path}/run", body=body, **kw)

    def status(self, tenant: str, action_path: str, job_id: str) -> Reply:
        return self.request("GET", f"/v2/tenants/{tenant}{action_path}/status", query={"job_id": job_id})

    def submit(self, tenant: str = "acme", action_path: str = "/diagnostic", body: Any = None) -> str:
        reply = self.run(tenant, action_path, {} if body is None else body)
        assert reply.status == 202, reply.body
        return str(reply.body["job_id"])

    def submit_item(self, job_id: str, body: Any, tenant: str = "acme", action: str = "diagnostic") -> None:
        """Stores a queued job directly, without its message (what a run function's PutItem does)."""
        from asyncjobs.actions.registry import ACTIONS
        from asyncjobs.jobs.models import Job, JobStatus

        svc = get_services()
        now = svc.clock()
        inputs = ACTIONS[action].input_model.model_validate(body)
        svc.store.create(
            Job(
                tenant,
                job_id,
                action,
                JobStatus.QUEUED,
                now,
                int(now) + 7 * 86400,
                {},
                inputs.model_dump_json(),
            )
        )

    # -- executor --------------------------------------------------------------------------
    def execute(
        self, *, max_batches: int = 50, retry_now: bool = True, function: str = "ExecutorFunction"
    ) -> int:
        """Delivers queued messages to an executor function (`ScienceExecutorFunction`: the science
        profile's) until its queue is empty. With `retry_now`, a failed message is made visible
        again at once instead of after the visibility timeout."""
        fn = self.stack.functions[function]
        trigger = next(t for t in self.stack.queue_triggers if t.function == function)
        delivered = 0
        for _ in range(max_batches):
            received, _failed = deliver_batch(
                self.sqs,
                trigger.queue_url,
                trigger.queue_arn,
                lambda ev: self.handlers[function](ev, LambdaContext(fn.name, fn.memory, fn.timeout)),
                batch_size=trigger.batch_size,
                report_batch_item_failures=trigger.report_batch_item_failures,
                failed_visibility_timeout=0 if retry_now else None,
            )
            if not received:
                return delivered
            delivered += received
        return delivered

    def pump(self, timeout: float = 20.0) -> None:
        """Runs every SQS event source and EventBridge rule of the template, as Lambda would,
        until no message is left (delayed ones included) or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = False
            for trigger in self.stack.queue_triggers:
                fn = trigger.function
                received, _ = deliver_batch(
                    self.sqs,
                    trigger.queue_url,
                    trigger.queue_arn,
                    lambda ev, fn=fn: self._invoke(fn, ev)[1],
                    batch_size=trigger.batch_size,
                    report_batch_item_failures=trigger.report_batch_item_failures,
                    failed_visibility_timeout=0,
                )
                busy = busy or received > 0
            busy = self._deliver_rules() > 0 or busy
            if not busy and not any(self._pending(t.queue_url) for t in self.stack.queue_triggers):
                return
            if not busy:
                time.sleep(0.05)
        raise AssertionError("messages still pending after the timeout")

    def pump_rules(self) -> None:
        """Delivers what the template's EventBridge rules matched so far to their functions."""
        while self._deliver_rules():
            pass

    def _deliver_rules(self) -> int:
        """One receive per rule, each event invoked as Lambda would; returns how many there were."""
        delivered = 0
        for rule in self.stack.rule_triggers:
            resp = self.sqs.receive_message(QueueUrl=rule.queue_url, MaxNumberOfMessages=10)
            msgs = resp.get("Messages", [])
            for m in msgs:
                ok, _ = self._invoke(
                    rule.function, target_input(aws_event(json.loads(m["Body"]), "us-east-1"), rule)
                )
                assert ok, f"{rule.function} failed on an event"
                self.sqs.delete_message(QueueUrl=rule.queue_url, ReceiptHandle=m["ReceiptHandle"])
            delivered += len(msgs)
        return delivered

    def _pending(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return sum(
            int(attrs[k])
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    @contextlib.contextmanager
    def executor_running(self) -> Iterator[None]:
        """The executor polling its queue, as Lambda's poller does, while the test makes a request
        that waits for a job (`Prefer: wait`)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                if not self.execute(retry_now=False):
                    time.sleep(0.02)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=15)

    def execute_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.execute, kwargs={"retry_now": False}, daemon=True)
        thread.start()
        return thread

    def queue_depth(self, url: str | None = None) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.trigger.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    # -- data ------------------------------------------------------------------------------
    @staticmethod
    def job_key(tenant: str, job_id: str) -> dict[str, Any]:
        """The key of a job's item (its partition key is sharded: jobs/store.py)."""
        from asyncjobs.jobs.store import job_key

        return job_key(tenant, job_id)

    def item(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        resp = self.ddb.get_item(TableName=self.env["JOBS_TABLE"], Key=self.job_key(tenant, job_id))
        if "Item" not in resp:
            return None
        d = TypeDeserializer()
        return {k: d.deserialize(v) for k, v in resp["Item"].items()}

    def tap_events(self) -> str:
        """Adds a rule with an SQS target on the jobs bus, so the test can read what was emitted."""
        url = self.sqs.create_queue(QueueName="event-tap")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = self.env["EVENT_BUS_NAME"]
        self.events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["asyncjobs"]}))
        self.events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        self._tap_url = url
        return url

    def emitted(self) -> list[dict[str, Any]]:
        assert self._tap_url, "call tap_events() first"
        out = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self._tap_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self._tap_url, ReceiptHandle=m["ReceiptHandle"])

    def fail_calls(
        self, service: str, operation: str, times: int = 1, code: str = "ThrottlingException", skip: int = 0
    ) -> list[int]:
        """Makes the next `times` calls of one operation by the functions' own client fail the way
        AWS fails them (after botocore's retries), on the real client. Returns a call counter."""
        client = aws.client(service)
        calls = [0]

        def fail(**_: Any) -> None:
            calls[0] += 1
            if skip < calls[0] <= skip + times:
                raise ClientError({"Error": {"Code": code, "Message": "injected by the test"}}, operation)

        client.meta.events.register(f"before-call.{client.meta.service_model.service_name}.{operation}", fail)
        return calls

    def lose_responses(
        self, service: str, operation: str, times: int = 1, skip: int = 0, code: str | None = None
    ) -> list[int]:
        """Makes the next `times` calls of one operation take effect while their response is lost:
        the SDK retries, and the retry fails the way AWS then fails it. A conditional DynamoDB write
        fails its own condition (the first try already moved the item); any other call gets a server
        error although it went through. Returns a call counter."""
        client = aws.client(service)
        calls = [0]
        code = code or ("ConditionalCheckFailedException" if service == "dynamodb" else "InternalError")

        def lose(http_response: Any, **_: Any) -> None:
            if http_response.status_code >= 300:
                return
            calls[0] += 1
            if skip < calls[0] <= skip + times:
                raise ClientError(
                    {"Error": {"Code": code, "Message": "response lost; retry refused"}}, operation
                )

        client.meta.events.register(f"after-call.{client.meta.service_model.service_name}.{operation}", lose)
        return calls

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("condition not met in time")

    def services(self) -> Any:
        return get_services()


def run_in_function(function: str, code: str) -> str:
    """The output of `code` run by a fresh interpreter as a cold start of `functions/<function>`
    would import it: its code directory and the jobs layer on the path, nothing else imported."""
    where = ROOT / "functions" / function
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=where,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(where), str(ROOT / "layers" / "jobs")]),
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    assert out.returncode == 0, out.stderr
    return out.stdout
