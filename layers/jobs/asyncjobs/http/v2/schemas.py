"""The response bodies of the v2 API as pydantic models, for the OpenAPI document only.

The handlers build their answers as plain dicts (`Job.to_public`, `Subscription.to_public`, ...) and
never import this module: pydantic costs ~65 ms of a cold start (see `http.router`). Routes name
these models by string in their `responses` (`{"model": "JobDocument"}`), and `http.openapi`
resolves the names offline. That they match what the handlers return is checked by the fuzz run
(`tests/e2e/test_fuzz.py`: every answer validates against its documented schema) and by a client
generated from the document (`tests/e2e/test_openapi.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from asyncjobs.jobs.models import JobStatus

__all__ = [
    "CancelledJob",
    "Delivery",
    "DeliveryDetail",
    "DeliveryList",
    "FileDocument",
    "JobDocument",
    "JobList",
    "Recovered",
    "RunAccepted",
    "SecretRotated",
    "Subscription",
    "SubscriptionCreated",
    "SubscriptionList",
    "UploadForm",
]

_JOB_ID = "01a203b7-0e11-74d0-ad5d-dde9fe7bd4df"
_SUB_ID = "sub_01a203b70e1174d0ad5ddde9fe7bd4df"


def _absent() -> Any:
    """The default of a field the answer leaves out when it does not apply: a `default_factory`
    puts no `default` (so no `null`) in the schema, and the field is simply not required."""
    return None


def _examples(*docs: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(docs)})


# -- jobs -------------------------------------------------------------------------------------


class JobError(BaseModel):
    """Why a job failed: `code` for machines, `message` safe to show."""

    code: str = Field(description="e.g. `action_error`, `attempts_exhausted`, or the action's own code.")
    message: str


class ResultFile(BaseModel):
    """A result over 64 KB, kept as a file instead of inline."""

    name: str
    content_type: str
    size_bytes: int
    sha256: str
    download_url: str = Field(description="A presigned S3 URL, fresh at every read.")


class JobSummary(BaseModel):
    """A job as a listing shows it: its status document without the result."""

    job_id: str
    action: str = Field(description="The action's name; `multi_action` for a multi-action job.")
    status: JobStatus
    created_at: datetime = Field(description="ISO 8601 UTC, milliseconds (`2026-11-22T14:44:18.076Z`).")
    started_at: datetime | None
    finished_at: datetime | None
    progress: int = Field(ge=0, le=100)
    expires_at: datetime = Field(description="When the job is deleted (7 days after its creation).")
    path_params: dict[str, str] = Field(
        default_factory=_absent,
        description='The action\'s resource (`{"design_id": "d-1"}`); absent when it has none.',
    )
    cancel_requested: bool = Field(
        default_factory=_absent,
        description="`true` while a cancellation waits for the running job to stop; absent otherwise.",
    )
    error: JobError = Field(default_factory=_absent, description="Present when the job `failed`.")
    continuations: int = Field(
        default_factory=_absent,
        ge=1,
        description="How many times the job continued in a new invocation (an action that "
        "checkpoints, to run longer than one); absent when it has not.",
    )
    actions_total: int = Field(
        default_factory=_absent, description="A multi-action job: how many actions it has."
    )
    actions_ended: int = Field(
        default_factory=_absent, description="A multi-action job: how many have ended."
    )


class ActionDocument(BaseModel):
    """One action of a multi-action job, with its own status, progress and result or error."""

    index: int = Field(description="The action's place in the request.")
    action: str
    status: JobStatus
    started_at: datetime | None
    finished_at: datetime | None
    progress: int = Field(ge=0, le=100)
    path_params: dict[str, str] = Field(default_factory=_absent)
    cancel_requested: bool = Field(default_factory=_absent)
    result: Any = Field(
        default_factory=_absent, description="The action's result, when it succeeded (unless `result_file`)."
    )
    result_file: ResultFile = Field(default_factory=_absent)
    error: JobError = Field(default_factory=_absent)


class JobDocument(JobSummary):
    """A job's status document. A succeeded job has `result` (or `result_file` when the result is
    over 64 KB); a failed one has `error`; a multi-action job lists its `actions`."""

    model_config = _examples(
        {
            "job_id": _JOB_ID,
            "action": "diagnostic",
            "status": "succeeded",
            "created_at": "2026-11-22T14:44:18.076Z",
            "started_at": "2026-11-22T14:44:18.301Z",
            "finished_at": "2026-11-22T14:44:18.954Z",
            "progress": 100,
            "expires_at": "2026-11-29T14:44:18.000Z",
            "result": {"steps": 4, "attempt": 1, "elapsed_seconds": 2.004, "echo": None},
        }
    )
    result: Any = Field(
        default_factory=_absent,
        description="The action's result, when the job succeeded (unless `result_file`).",
    )
    result_file: ResultFile = Field(
        default_factory=_absent, description="Instead of `result`, for a result over 64 KB."
    )
    actions: list[ActionDocument] = Field(
        default_factory=_absent, description="A multi-action job: each of its actions."
    )


class CancelledJob(JobDocument):
    """The job after the cancel: `cancelled` (200), or still running with `cancel_requested` (202)."""


class RunAccepted(BaseModel):
    """The job was accepted: poll `status_url` (also in `Location`) after `Retry-After` seconds."""

    model_config = _examples(
        {
            "job_id": _JOB_ID,
            "status": "queued",
            "status_url": f"/v2/tenants/demo/diagnostic/status?job_id={_JOB_ID}",
        }
    )
    job_id: str
    status: JobStatus = Field(description="`queued`.")
    status_url: str = Field(description="The job's status route, as a path.")


class JobList(BaseModel):
    """A page of the tenant's jobs, newest first."""

    model_config = _examples(
        {
            "jobs": [
                {
                    "job_id": _JOB_ID,
                    "action": "diagnostic",
                    "status": "in_progress",
                    "created_at": "2026-11-22T14:44:18.076Z",
                    "started_at": "2026-11-22T14:44:18.301Z",
                    "finished_at": None,
                    "progress": 40,
                    "expires_at": "2026-11-29T14:44:18.000Z",
                }
            ],
            "next_cursor": None,
        }
    )
    jobs: list[JobSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; `null` on the last.")


# -- files ------------------------------------------------------------------------------------


class UploadTarget(BaseModel):
    method: Literal["POST"]
    url: str = Field(description="Where to POST the file (S3), as multipart/form-data.")
    fields: dict[str, str] = Field(description="Form fields to send as they are, before the file.")


class UploadForm(BaseModel):
    """A new file id and the presigned form that uploads the file."""

    file_id: str
    upload: UploadTarget
    max_bytes: int = Field(description="The largest file the form accepts.")
    expires_at: datetime = Field(description="The form works until then.")


class FileDocument(BaseModel):
    """An uploaded file."""

    file_id: str
    name: str | None
    size_bytes: int
    content_type: str
    uploaded_at: datetime
    expires_at: datetime = Field(description="When the file is deleted.")


# -- webhooks ---------------------------------------------------------------------------------

EventType = Literal["job.succeeded", "job.failed", "job.cancelled"]


class SubscriptionAuth(BaseModel):
    """How deliveries authenticate, never with the password or header values."""

    type: Literal["none", "basic", "headers"]
    username: str = Field(default_factory=_absent, description="`basic` only.")
    header_names: list[str] = Field(default_factory=_absent, description="`headers` only.")


class SecretInfo(BaseModel):
    created_at: datetime
    expires_at: datetime | None = Field(description="Set once rotated out: it signs until then.")
    prefix: str = Field(description="The secret's first characters, to tell secrets apart.")


class Subscription(BaseModel):
    """A webhook subscription (never a secret, password or header value)."""

    id: str
    url: str
    events: list[EventType]
    actions: list[str] = Field(description="Only these actions' jobs; empty for all.")
    auth: SubscriptionAuth
    enabled: bool
    disabled_reason: str | None
    description: str
    secrets: list[SecretInfo] = Field(description="The secrets signing deliveries now.")
    created_at: datetime
    updated_at: datetime


_SUBSCRIPTION = {
    "id": _SUB_ID,
    "url": "https://example.com/hooks/jobs",
    "events": ["job.succeeded", "job.failed"],
    "actions": [],
    "auth": {"type": "none"},
    "enabled": True,
    "disabled_reason": None,
    "description": "",
    "secrets": [{"created_at": "2026-11-22T14:44:18.076Z", "expires_at": None, "prefix": "whsec_Xq3…"}],
    "created_at": "2026-11-22T14:44:18.076Z",
    "updated_at": "2026-11-22T14:44:18.076Z",
}


class SubscriptionCreated(Subscription):
    """The new subscription and its signing secret, shown this once."""

    model_config = _examples({**_SUBSCRIPTION, "secret": "whsec_Xq3dUm0bQ2hH4f8zV6S3kq1aT9rWcYpL"})
    secret: str = Field(description="`whsec_` + base64: verify signatures with it (Standard Webhooks).")


class SecretRotated(Subscription):
    """The subscription with its new secret, shown this once."""

    secret: str
    previous_secrets_expire_at: datetime = Field(description="The previous secrets sign until then.")


class SubscriptionList(BaseModel):
    webhooks: list[Subscription]


DeliveryStatus = Literal["pending", "succeeded", "failed", "exhausted", "skipped"]


class Delivery(BaseModel):
    """One delivery of an event to a subscription, over all its attempts."""

    id: str = Field(description="Its `webhook-id`: `<job_id>.<status>`, or `<uuid>.ping`.")
    event_type: Literal["job.succeeded", "job.failed", "job.cancelled", "ping"]
    job_id: str | None
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None
    next_attempt_at: datetime | None = Field(description="While `pending`.")
    created_at: datetime


class DeliveryAttempt(BaseModel):
    """One attempt."""

    at: datetime
    status_code: int | None = Field(description="The receiver's answer; null if none came.")
    latency_ms: float
    error: str | None = Field(description="Why the attempt failed; null if it did not.")


class DeliveryDetail(Delivery):
    """A delivery with every attempt and the exact payload sent."""

    attempt_log: list[DeliveryAttempt]
    payload: dict[str, Any] = Field(description="The body POSTed to the receiver.")


class DeliveryList(BaseModel):
    """A page of the delivery log, newest job first (a delivery is keyed by its job's id); it may be
    short (even empty) and still have a `next_cursor`: each request reads a bounded part of the log."""

    deliveries: list[Delivery]
    next_cursor: str | None


class Recovered(BaseModel):
    requeued: int = Field(description="Deliveries queued again by this call.")
    next_cursor: str | None = Field(description="Call again with it until it is `null`.")
