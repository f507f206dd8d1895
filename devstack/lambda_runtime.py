"""What Lambda does around a handler, for running functions in-process: the context object, the
event shapes of API Gateway HTTP APIs (payload v2) and SQS, and SQS polling with partial batch
failure reporting."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from devstack.provision import ACCOUNT, RuleTrigger


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 128
    timeout_s: float = 3.0
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _start: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._start)) * 1000))


def http_event(
    method: str,
    path: str,
    *,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    api_id: str = "local",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event, as AWS builds it for a Lambda proxy route."""
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    now = datetime.now(UTC)
    query_params: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        query_params[k] = f"{query_params[k]},{v}" if k in query_params else v
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": hdrs,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": api_id,
            "domainName": hdrs.get("host", "localhost"),
            "domainPrefix": hdrs.get("host", "localhost").split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": hdrs.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query_params:
        event["queryStringParameters"] = query_params
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS poller hands a function for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def failed_message_ids(response: Any, event: dict[str, Any]) -> set[str]:
    """The messages Lambda keeps after an invocation: those named in `batchItemFailures`. A
    malformed response (or an item without an id) fails the whole batch, as on AWS."""
    every = {r["messageId"] for r in event["Records"]}
    if response is None:
        return set()
    if not isinstance(response, dict):
        return every
    failures = response.get("batchItemFailures", [])
    if not isinstance(failures, list):
        return every
    ids = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in every:
            return every
        ids.add(ident)
    return ids


def deliver_batch(
    sqs: Any,
    queue_url: str,
    queue_arn: str,
    invoke: Callable[[dict[str, Any]], Any],
    *,
    batch_size: int,
    report_batch_item_failures: bool,
    region: str = "us-east-1",
    wait_seconds: int = 0,
    failed_visibility_timeout: int | None = None,
) -> tuple[int, int]:
    """Receives one batch and invokes the function with it, as Lambda's poller does: messages the
    function processed are deleted; failed ones stay and reappear after the visibility timeout.
    `invoke` raising (or timing out) fails the whole batch. Returns (received, failed).

    `failed_visibility_timeout` shortens the wait before a failed message reappears (Lambda itself
    never does this; tests and the local stack's time scale use it instead of waiting)."""
    resp = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=min(batch_size, 10),
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages = resp.get("Messages", [])
    if not messages:
        return 0, 0
    event = sqs_event(messages, queue_arn, region)
    try:
        result = invoke(event)
    except Exception:
        failed = {m["MessageId"] for m in messages}
    else:
        failed = failed_message_ids(result, event) if report_batch_item_failures else set()
    if failed_visibility_timeout is not None:
        for m in messages:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url,
                    ReceiptHandle=m["ReceiptHandle"],
                    VisibilityTimeout=failed_visibility_timeout,
                )
    done = [m for m in messages if m["MessageId"] not in failed]
    for i in range(0, len(done), 10):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[i : i + 10])
            ],
        )
    return len(messages), len(failed)


def json_body(response: dict[str, Any]) -> Any:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body) if body else None


def aws_event(event: dict[str, Any], region: str) -> dict[str, Any]:
    """The event as EventBridge hands it to Lambda (moto's delivered copy lacks `account`)."""
    return {
        "version": "0",
        "id": event.get("id", ""),
        "detail-type": event.get("detail-type", ""),
        "source": event.get("source", ""),
        "account": event.get("account") or ACCOUNT,
        "time": event.get("time", ""),
        "region": event.get("region") or region,
        "resources": event.get("resources", []),
        "detail": event.get("detail", {}),
    }


def target_input(event: dict[str, Any], rule: RuleTrigger) -> Any:
    """A rule target's `Input` (constant JSON) or `InputPath` (a `$.a.b` path), else the event."""
    if rule.input is not None:
        return json.loads(rule.input)
    if rule.input_path:
        value: Any = event
        for part in rule.input_path.removeprefix("$").strip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value
    return event
