"""Job completion events on the custom EventBridge bus."""

from __future__ import annotations

import json
from typing import Any

from asyncjobs.aws.clients import AWS_ERRORS
from asyncjobs.errors import InfrastructureError
from asyncjobs.jobs.models import EVENT_DETAIL_TYPES, Job, iso

# EventBridge entries are limited to 256 KB; larger results are left for the status call.
MAX_INLINE_RESULT_BYTES = 16 * 1024


def event_detail(job: Job) -> dict[str, Any]:
    """The `detail` of a job event. `event_id` is the same every time one job's end is announced,
    so consumers (and webhook ids) can deduplicate the at-least-once deliveries."""
    detail: dict[str, Any] = {
        "event_id": f"{job.job_id}.{job.status.value}",
        "tenant_id": job.tenant_id,
        "job_id": job.job_id,
        "action": job.action,
        "status": job.status.value,
        "path_params": dict(job.path_params),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "expires_at": iso(job.expires_at),
    }
    if job.error is not None:
        detail["error"] = job.error.to_dict()
    if job.result_file is not None:
        detail["result_omitted"] = True  # stored as a file: fetch it from the status URL
    if job.result_json is not None:
        if len(job.result_json.encode()) <= MAX_INLINE_RESULT_BYTES:
            detail["result"] = json.loads(job.result_json)
        else:
            detail["result_omitted"] = True
    return detail


class EventPublisher:
    def __init__(self, client: Any, bus_name: str, source: str) -> None:
        self._events = client
        self._bus = bus_name
        self._source = source

    def job_finished(self, job: Job) -> None:
        entry = {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": EVENT_DETAIL_TYPES[job.status],
            "Detail": json.dumps(event_detail(job), separators=(",", ":")),
            "Resources": [],
        }
        try:
            resp = self._events.put_events(Entries=[entry])
        except AWS_ERRORS as exc:
            raise InfrastructureError(f"EventBridge PutEvents failed: {exc}") from exc
        if resp.get("FailedEntryCount"):
            failed = resp["Entries"][0]
            raise InfrastructureError(
                f"EventBridge rejected the event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
            )
