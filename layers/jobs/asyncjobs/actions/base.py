"""What an action is: its path, its input model and its implementation, declared in one place."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from asyncjobs.errors import ActionFailed
from asyncjobs.jobs.ids import FILE_ID_PATTERN, PATH_PARAM_PATTERN

__all__ = ["PATH_PARAM_PATTERN", "ActionFailed", "ActionInput", "FileId", "FileRef", "JobContext"]

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT = re.compile(r"^([a-z0-9_-]+|\{[A-Za-z_][A-Za-z0-9_]*\})$")


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

    def remaining_seconds(self) -> float:
        """Seconds left before the platform ends this attempt."""


@dataclass(frozen=True)
class Action:
    name: str
    path: str
    """Resource path below /v2/tenants/{tenant_id}, ending in the action name."""
    input_model: type[ActionInput]
    run: Callable[[Any, JobContext], Any]
    summary: str
    description: str = ""

    def __post_init__(self) -> None:
        segments = self.path.strip("/").split("/")
        if not self.path.startswith("/") or segments[-1] != self.name:
            raise ValueError(
                f"action {self.name!r}: path {self.path!r} must start with / and end with the name"
            )
        bad = [s for s in segments if not _SEGMENT.match(s)]
        if bad or "tenant_id" in self.path_params:
            raise ValueError(f"action {self.name!r}: invalid path segments {bad or ['{tenant_id}']}")

    @property
    def path_params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def run_path(self) -> str:
        return f"/v2/tenants/{{tenant_id}}{self.path}/run"

    @property
    def status_path(self) -> str:
        return f"/v2/tenants/{{tenant_id}}{self.path}/status"
