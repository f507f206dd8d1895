"""The request bodies of the jobs and files API, v2 (pydantic models). Loaded through
`http.lazy.lazy_module` when a route that reads a body first runs: StatusFunction's routes read
none, and must not pay ~65 ms of cold start for pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncjobs.jobs import uploads, use_cases

__all__ = ["ActionSpec", "MultiJobRequest", "UploadRequest", "ValidationError"]


class ActionSpec(BaseModel):
    """One action of a multi-action job."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        max_length=64, description="The action's name, as in its run route (e.g. `diagnostic`)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="The action's inputs: the body its run route takes."
    )
    path_params: dict[str, str] = Field(
        default_factory=dict,
        description='The action\'s resource, e.g. `{"design_id": "d-1"}` for '
        "`/designs/{design_id}/proposal_pdf`.",
    )


class MultiJobRequest(BaseModel):
    """A job of several actions that run in parallel, each with its own status and result."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "actions": [
                        {"name": "diagnostic", "params": {"duration_seconds": 1}},
                        {
                            "name": "highlight",
                            "params": {"text": "a fast job", "highlight_expression": "fast"},
                        },
                    ]
                }
            ]
        },
    )
    actions: list[ActionSpec] = Field(min_length=1, max_length=use_cases.MAX_ACTIONS)


# A media type, optionally with parameters (`text/plain; charset=utf-8`); S3 stores it as sent.
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
CONTENT_TYPE_PATTERN = rf'^{_TOKEN}/{_TOKEN}(; ?{_TOKEN}=({_TOKEN}|"[^"\\]*"))*$'


class UploadRequest(BaseModel):
    """What the caller may say of the file it is about to upload (all optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=255, description="The file's name, kept with it (e.g. `report.docx`)."
    )
    content_type: str | None = Field(
        None,
        max_length=255,
        pattern=CONTENT_TYPE_PATTERN,
        description="The file's media type. Given, the upload must send it (it is in `fields`); "
        "otherwise the upload's own `Content-Type` field is kept.",
    )
    size_bytes: int | None = Field(
        None,
        ge=0,
        le=uploads.MAX_UPLOAD_BYTES,
        description="The file's exact size, if known: the upload is then refused if larger.",
    )
