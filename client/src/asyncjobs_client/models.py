"""The API's documents as dataclasses, parsed from its JSON. Times become aware UTC datetimes;
`raw` keeps the document as received (fields this version does not know included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "TERMINAL",
    "Delivery",
    "JobError",
    "JobState",
    "RecoverResult",
    "ResultFile",
    "SecretInfo",
    "Subscription",
    "WebhookEvent",
    "parse_time",
]

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (`2026-11-22T14:44:18.076Z`, or with an offset) as an aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass(frozen=True)
class JobError:
    code: str
    message: str

    @classmethod
    def parse(cls, doc: Any) -> JobError | None:
        return cls(str(doc.get("code", "")), str(doc.get("message", ""))) if doc else None


@dataclass(frozen=True)
class ResultFile:
    """A file of a job's result. `download_url` is signed when the status was read: fetch it soon."""

    name: str
    download_url: str
    content_type: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> ResultFile:
        return cls(
            name=str(doc.get("name", "")),
            download_url=str(doc.get("download_url", "")),
            content_type=doc.get("content_type"),
            size_bytes=doc.get("size_bytes"),
            sha256=doc.get("sha256"),
        )


@dataclass(frozen=True)
class JobState:
    """A job's status document (or a listing's row, which has no `result`)."""

    job_id: str
    status: str
    action: str | None = None
    progress: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    result: Any = None
    result_file: ResultFile | None = None
    error: JobError | None = None
    cancel_requested: bool = False
    status_url: str | None = None
    actions: list[JobState] = field(default_factory=list)
    """A multi-action job's actions, each with its own status and result or error."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> JobState:
        result_file = doc.get("result_file")
        return cls(
            job_id=str(doc.get("job_id", "")),
            status=str(doc.get("status", "")),
            action=doc.get("action"),
            progress=int(doc.get("progress") or 0),
            created_at=parse_time(doc.get("created_at")),
            started_at=parse_time(doc.get("started_at")),
            finished_at=parse_time(doc.get("finished_at")),
            expires_at=parse_time(doc.get("expires_at")),
            path_params=dict(doc.get("path_params") or {}),
            result=doc.get("result"),
            result_file=ResultFile.parse(result_file) if result_file else None,
            error=JobError.parse(doc.get("error")),
            cancel_requested=bool(doc.get("cancel_requested", False)),
            status_url=doc.get("status_url"),
            actions=[JobState.parse(a | {"job_id": doc.get("job_id", "")}) for a in doc.get("actions") or []],
            raw=doc,
        )

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def files(self) -> list[ResultFile]:
        """Every file of the result: `result.files` (e.g. proposal_pdf's PDF) and `result_file`
        (a result too large to inline), each with its download URL."""
        found = [ResultFile.parse(f) for f in _result_files(self.result)]
        if self.result_file is not None:
            found.append(self.result_file)
        return found


def _result_files(result: Any) -> list[dict[str, Any]]:
    files = result.get("files") if isinstance(result, dict) else None
    return (
        [f for f in files if isinstance(f, dict) and "download_url" in f] if isinstance(files, list) else []
    )


@dataclass(frozen=True)
class SecretInfo:
    prefix: str
    created_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription. `secret` is set only in the answers of create and rotate_secret:
    the API shows it that once."""

    id: str
    url: str
    events: list[str]
    actions: list[str] = field(default_factory=list)
    auth: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    disabled_reason: str | None = None
    description: str = ""
    secrets: list[SecretInfo] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    secret: str | None = field(default=None, repr=False)
    previous_secrets_expire_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Subscription:
        return cls(
            id=str(doc["id"]),
            url=str(doc.get("url", "")),
            events=list(doc.get("events") or []),
            actions=list(doc.get("actions") or []),
            auth=dict(doc.get("auth") or {}),
            enabled=bool(doc.get("enabled", True)),
            disabled_reason=doc.get("disabled_reason"),
            description=str(doc.get("description") or ""),
            secrets=[
                SecretInfo(
                    str(s.get("prefix", "")), parse_time(s.get("created_at")), parse_time(s.get("expires_at"))
                )
                for s in doc.get("secrets") or []
            ],
            created_at=parse_time(doc.get("created_at")),
            updated_at=parse_time(doc.get("updated_at")),
            secret=doc.get("secret"),
            previous_secrets_expire_at=parse_time(doc.get("previous_secrets_expire_at")),
            raw=doc,
        )


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery (its id is the `webhook-id` header). `attempt_log` and `payload` are
    set only by `webhooks.delivery(...)`."""

    id: str
    event_type: str
    status: str
    job_id: str | None = None
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    last_latency_ms: float | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    attempt_log: list[dict[str, Any]] = field(default_factory=list)
    payload: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Delivery:
        return cls(
            id=str(doc["id"]),
            event_type=str(doc.get("event_type", "")),
            status=str(doc.get("status", "")),
            job_id=doc.get("job_id"),
            attempts=int(doc.get("attempts") or 0),
            last_status_code=doc.get("last_status_code"),
            last_error=doc.get("last_error"),
            last_latency_ms=doc.get("last_latency_ms"),
            next_attempt_at=parse_time(doc.get("next_attempt_at")),
            created_at=parse_time(doc.get("created_at")),
            attempt_log=list(doc.get("attempt_log") or []),
            payload=doc.get("payload"),
            raw=doc,
        )


@dataclass(frozen=True)
class RecoverResult:
    requeued: int
    next_cursor: str | None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: `type` is `job.succeeded`, `job.failed`, `job.cancelled` or `ping`.
    For a job event `job` is its data as a JobState (no `status_url`; a result over 16 KB is left
    out: `data["result_omitted"]`)."""

    id: str
    type: str
    timestamp: datetime | None
    data: dict[str, Any]
    job: JobState | None

    @classmethod
    def parse(cls, webhook_id: str, doc: dict[str, Any]) -> WebhookEvent:
        data = dict(doc.get("data") or {})
        is_job = str(doc.get("type", "")).startswith("job.")
        return cls(
            id=webhook_id,
            type=str(doc.get("type", "")),
            timestamp=parse_time(doc.get("timestamp")),
            data=data,
            job=JobState.parse(data) if is_job else None,
        )
