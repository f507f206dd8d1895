"""What an action module uses: the base of its input model, file parameters, the job context its
implementation runs in, and its expected failures. Its declaration (name, path, documentation) is
an `Action` in the registry."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from asyncjobs.actions.declaration import Action
from asyncjobs.errors import ActionFailed
from asyncjobs.jobs.ids import FILE_ID_PATTERN, PATH_PARAM_PATTERN

__all__ = ["PATH_PARAM_PATTERN", "Action", "ActionFailed", "ActionInput", "FileId", "FileRef", "JobContext"]


class ActionInput(BaseModel):
    """Base of every action's input model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class FileRef:
    """Marks a `FileId` in an input model, so the submit check (`jobs.uploads.file_refs`) finds
    file fields by what they are, not by their names."""

    def __repr__(self) -> str:
        return "FileRef()"


FILE_REF = FileRef()

FileId = Annotated[
    str,
    StringConstraints(pattern=FILE_ID_PATTERN),
    Field(
        description="A file uploaded beforehand: the `file_id` of `POST /v2/tenants/{tenant_id}/files`. "
        "It must exist when the job is submitted, and is read when the job runs.",
        examples=["file_0123456789abcdef0123456789abcdef"],
    ),
    FILE_REF,
]
"""An action input's file parameter (a file id; the action reads it with `ctx.read_file`)."""


class JobContext(Protocol):
    """What an action may ask of the job it runs in."""

    tenant_id: str
    job_id: str
    path_params: dict[str, str]
    attempt: int
    """1 on the first try; more after a failed or crashed one (continuing does not count)."""
    continuations: int
    """How many times the job has continued in a new invocation so far (0 at first)."""

    @property
    def resume_state(self) -> Any:
        """The last checkpoint stored before this invocation (None at first): an action that
        checkpoints resumes from it. It is read once, at the first access."""

    def report_progress(self, percent: float) -> None:
        """Records progress (0-100). Raises JobCancelled once the caller has asked to cancel."""

    def check_cancelled(self) -> None:
        """Raises JobCancelled if the caller has asked to cancel (reads the job at most once a
        progress interval)."""

    def save_file(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Stores a result file and returns its reference, to be put in the result."""

    def read_file(self, file_id: str, max_bytes: int | None = None) -> bytes:
        """The bytes of a file the tenant uploaded (a `FileId` input). Raises ActionFailed
        `file_not_found` (unknown, expired, or another tenant's) or `file_too_large` (over
        `max_bytes`, which an action sets to what its memory can process; else the upload limit)."""

    def checkpoint(self, state: Any, progress: float | None = None) -> None:
        """Stores `state` (JSON-serialisable; kept in the job item up to 64 KB, as a file up to
        10 MB, else the job fails `checkpoint_too_large`) and `progress`, at most once per progress
        interval. When this invocation has less than a minute left (40 % of it, if shorter)
        plus the longest time between two checkpoints so far, it raises JobContinues instead: let
        it propagate, and a new invocation runs the action again with this state as
        `resume_state`. So checkpoint more often than that: every few seconds is cheap. Raises
        JobCancelled once the caller has asked to cancel."""

    def remaining_seconds(self) -> float:
        """Seconds left before the platform ends this attempt."""
