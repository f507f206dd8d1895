"""The jobs queue: a message carries only the job's key; the job itself lives in DynamoDB."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from asyncjobs.aws.clients import AWS_ERRORS
from asyncjobs.errors import InfrastructureError


def message_body(tenant_id: str, job_id: str, continuation: int = 0) -> str:
    """A job's message. The message of a job's `n`th continuation (n > 0) says so: that message
    carries the job from then on, and earlier ones are superseded (see `jobs.executor`)."""
    doc: dict[str, Any] = {"tenant_id": tenant_id, "job_id": job_id}
    if continuation:
        doc["continuation"] = continuation
    return json.dumps(doc, separators=(",", ":"))


def parse_continuation(body: str) -> int:
    """The continuation a message carries (0: the job's first message). Call after parse_message."""
    value = json.loads(body).get("continuation", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("message body has an invalid continuation")
    return value


def parse_message(body: str) -> tuple[str, str]:
    """Returns (tenant_id, job_id); raises ValueError for a body this service did not write."""
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("message body is not a JSON object")
    tenant_id, job_id = doc.get("tenant_id"), doc.get("job_id")
    if not isinstance(tenant_id, str) or not isinstance(job_id, str) or not tenant_id or not job_id:
        raise ValueError("message body lacks tenant_id or job_id")
    return tenant_id, job_id


class JobQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, tenant_id: str, job_id: str, continuation: int = 0) -> None:
        try:
            self._sqs.send_message(
                QueueUrl=self._url, MessageBody=message_body(tenant_id, job_id, continuation)
            )
        except AWS_ERRORS as exc:
            raise InfrastructureError(f"SQS SendMessage failed: {exc}") from exc

    def send_many(self, tenant_id: str, job_ids: list[str]) -> None:
        """One message per job, in one SendMessageBatch request (at most 10). Entries the batch
        refused are sent again once; any still refused raise InfrastructureError."""
        entries = [
            {"Id": str(i), "MessageBody": message_body(tenant_id, job_id)} for i, job_id in enumerate(job_ids)
        ]
        for _ in range(2):
            try:
                resp = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except AWS_ERRORS as exc:
                raise InfrastructureError(f"SQS SendMessageBatch failed: {exc}") from exc
            failed = {f["Id"] for f in resp.get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                return
        raise InfrastructureError(f"SQS SendMessageBatch refused {len(entries)} of the job's messages")

    def return_in(self, receipt_handle: str, seconds: int) -> None:
        """Makes a received message visible again in `seconds` instead of after the queue's
        visibility timeout. Best effort: if it fails, the visibility timeout applies."""
        with contextlib.suppress(*AWS_ERRORS):
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
