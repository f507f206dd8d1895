"""The files API, v2: upload forms (RunFunction) and uploaded files (StatusFunction).

Files reach S3 directly through a presigned POST, never through the API: API Gateway caps a
request at 10 MB and Lambda a payload at 6 MB.
"""

from __future__ import annotations

from typing import Annotated

from asyncjobs.http.app import json_response
from asyncjobs.http.lazy import lazy_module
from asyncjobs.http.params import Path
from asyncjobs.http.router import Response, Router
from asyncjobs.http.routes import BODY, TENANT_ID_PATTERN
from asyncjobs.jobs import uploads
from asyncjobs.jobs.ids import FILE_ID_PARAM_PATTERN
from asyncjobs.services import get_services

bodies = lazy_module("asyncjobs.http.v2.bodies")  # request bodies, loaded on first use
TENANT_ID = Annotated[str, Path(pattern=TENANT_ID_PATTERN)]
FILE_ID_PATH = Annotated[
    str, Path(pattern=FILE_ID_PARAM_PATTERN, max_length=64, description="From the upload response.")
]


def register_run_routes(app: Router) -> None:
    """RunFunction's file route: `POST /v2/tenants/{tenant_id}/files`."""
    app.post(
        "/v2/tenants/<tenant_id>/files",
        operation_id="create_upload",
        summary="Get an upload form for a file",
        description=(
            "Returns a new `file_id` and a presigned S3 POST: send the file as multipart/form-data to "
            "`upload.url`, with every `upload.fields` entry as a form field and the file last, in a "
            f"field named `file`. Files up to {uploads.MAX_UPLOAD_BYTES // (1024 * 1024)} MB; the form "
            f"works for {uploads.UPLOAD_FORM_TTL_S // 60} minutes; the file is deleted "
            f"{uploads.FILE_RETENTION_DAYS} days after its upload. Name the `file_id` in a job's input."
        ),
        responses={201: {"description": "The file id and its upload form.", "model": "UploadForm"}},
        tags=["files"],
    )(create_upload)


def create_upload(
    tenant_id: TENANT_ID, body: Annotated[bodies.UploadRequest | None, BODY] = None
) -> Response:
    request = body or bodies.UploadRequest()
    doc = uploads.new_upload(
        get_services(),
        tenant_id,
        name=request.name,
        content_type=request.content_type,
        size_bytes=request.size_bytes,
    )
    return json_response(201, doc)


def register_status_routes(app: Router) -> None:
    """StatusFunction's file route: `GET /v2/tenants/{tenant_id}/files/{file_id}`."""
    app.get(
        "/v2/tenants/<tenant_id>/files/<file_id>",
        operation_id="get_file",
        summary="An uploaded file",
        description="Whether the file was uploaded, its size and type, and when it will be deleted.",
        responses={
            200: {
                "description": "The file was uploaded: its size, type, and when it will be deleted.",
                "model": "FileDocument",
            },
            404: {"description": "Not uploaded (yet), unknown for this tenant, or deleted."},
        },
        tags=["files"],
    )(get_file)


def get_file(tenant_id: TENANT_ID, file_id: FILE_ID_PATH) -> Response:
    return json_response(200, uploads.describe(get_services(), tenant_id, file_id))
