"""The job record and its lifecycle states."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

EVENT_DETAIL_TYPES = {
    JobStatus.SUCCEEDED: "Job Succeeded",
    JobStatus.FAILED: "Job Failed",
    JobStatus.CANCELLED: "Job Cancelled",
}


# The `action` of a multi-action job: each of its actions is a job of its own (see `jobs.multi`).
MULTI_ACTION = "multi_action"


def iso(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class JobError:
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Job:
    tenant_id: str
    job_id: str
    action: str
    status: JobStatus
    created_at: float
    expires_at: int
    path_params: dict[str, str] = field(default_factory=dict)
    input_json: str = "{}"
    started_at: float | None = None
    finished_at: float | None = None
    progress: int = 0
    result_json: str | None = None
    error: JobError | None = None
    attempts: int = 0
    lease_until: float | None = None
    cancel_requested: bool = False
    input_key: str | None = None
    """Where the input lives when it is too large to keep in the item (the results bucket)."""
    result_file: dict[str, Any] | None = None
    """The result stored as a file when it is too large to keep in the item."""
    parent_id: str | None = None
    """Set on each action of a multi-action job: the job it belongs to (see `jobs.multi`)."""
    actions_total: int = 0
    """On a multi-action job: how many actions it has (0 on a one-action job)."""
    ended_actions: frozenset[int] = frozenset()
    """On a multi-action job: the indexes of its actions that have ended, each recorded once."""
    failed_actions: frozenset[int] = frozenset()
    """On a multi-action job: the indexes of its actions that ended `failed`."""
    cancelled_actions: frozenset[int] = frozenset()
    """On a multi-action job: the indexes of its actions that ended `cancelled`."""
    continuations: int = 0
    """How many times an attempt ended by continuing (`ctx.checkpoint` ran out of time): each
    continuation is run by a new message carrying this number (see `jobs.executor`)."""
    checkpoint_json: str | None = None
    """The action's last checkpoint (JSON), when kept in the item."""
    checkpoint_key: str | None = None
    """Where the action's last checkpoint lives when it is too large for the item (results bucket)."""

    @property
    def tries(self) -> int:
        """The attempt number an action sees: claims (`attempts`, the fencing counter) less
        continuations, so continuing consumes no attempt; only failed or crashed claims count."""
        return self.attempts - self.continuations

    @property
    def is_multi(self) -> bool:
        return self.actions_total > 0

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    @property
    def result(self) -> Any:
        return None if self.result_json is None else json.loads(self.result_json)

    def to_public(self) -> dict[str, Any]:
        """The status document callers see (no lease or attempt bookkeeping)."""
        doc: dict[str, Any] = {
            "job_id": self.job_id,
            "action": self.action,
            "status": self.status.value,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "progress": self.progress,
            "expires_at": iso(self.expires_at),
        }
        if self.path_params:
            doc["path_params"] = dict(self.path_params)
        if self.cancel_requested and not self.status.terminal:
            doc["cancel_requested"] = True
        if self.status is JobStatus.SUCCEEDED and self.result_file is None:
            doc["result"] = self.result
        if self.error is not None:
            doc["error"] = self.error.to_dict()
        if self.continuations:
            doc["continuations"] = self.continuations
        if self.is_multi:
            doc["actions_total"] = self.actions_total
            doc["actions_ended"] = len(self.ended_actions)
        return doc

    def to_summary(self) -> dict[str, Any]:
        """One row of a job listing: the status document without the result body."""
        doc = self.to_public()
        doc.pop("result", None)
        return doc
