"""Files tenants upload as job inputs: upload forms, what was stored, and the check at submit.

Why uploads go to S3 directly: API Gateway caps a request at 10 MB and Lambda a payload at 6 MB
(~4.5 MB of binary once base64-encoded), so a file of any real size cannot pass through a function.
A caller asks for a presigned POST, sends the file to S3 with it, and names the file's id in a
job's input (a `FileId` field). The file is kept FILE_RETENTION_DAYS after its upload.
"""

from __future__ import annotations

from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from asyncjobs.errors import InfrastructureError, InvalidRequest, NotFound, ServiceUnavailable
from asyncjobs.jobs.files import StoredUpload
from asyncjobs.jobs.ids import is_file_id, new_file_id
from asyncjobs.jobs.models import iso
from asyncjobs.services import Services

if TYPE_CHECKING:
    from pydantic import BaseModel

# Largest file an upload form accepts (S3 refuses more with EntityTooLarge) and an action may read.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# How long an upload form may be used. It is signed with the run function's role session, whose
# credentials last longer than this; a short window limits what a leaked form can do.
UPLOAD_FORM_TTL_S = 900
# Must equal the results bucket's lifecycle `ExpirationInDays` in template.yaml (a test checks):
# jobs live 7 days, so a file uploaded for a job outlives it.
FILE_RETENTION_DAYS = 8
_DAY = 86400


class FileNotUploaded(InvalidRequest):
    code = "file_not_found"


class FileTooLarge(InvalidRequest):
    code = "file_too_large"


def expires_at(stored: StoredUpload) -> float:
    """When the bucket's lifecycle deletes the file. S3 adds the rule's days to the object's
    creation time and rounds up to the next midnight UTC; from then on the file counts as gone
    here, though S3 removes it only some time later."""
    return (int(stored.uploaded_at + FILE_RETENTION_DAYS * _DAY) // _DAY + 1) * _DAY


def new_upload(
    svc: Services,
    tenant_id: str,
    *,
    name: str | None = None,
    content_type: str | None = None,
    size_bytes: int | None = None,
) -> dict[str, Any]:
    """A new file id and the presigned POST that uploads it. A declared `size_bytes` becomes the
    form's limit, so S3 refuses a different (larger) file."""
    file_id = new_file_id()
    max_bytes = MAX_UPLOAD_BYTES if size_bytes is None else size_bytes
    form = svc.files.upload_form(
        tenant_id,
        file_id,
        max_bytes=max_bytes,
        expires_in=UPLOAD_FORM_TTL_S,
        content_type=content_type,
        name=name,
    )
    return {
        "file_id": file_id,
        "upload": {"method": "POST", "url": form["url"], "fields": form["fields"]},
        "max_bytes": max_bytes,
        "expires_at": iso(svc.clock() + UPLOAD_FORM_TTL_S),
    }


def find(svc: Services, tenant_id: str, file_id: str) -> StoredUpload | None:
    """The tenant's uploaded file, None if unknown, expired or not uploaded (yet)."""
    if not is_file_id(file_id):
        return None
    try:
        stored = svc.files.head_upload(tenant_id, file_id)
    except InfrastructureError as exc:
        raise ServiceUnavailable("The file store is unavailable. Retry the request.") from exc
    if stored is None or expires_at(stored) <= svc.clock():
        return None
    return stored


def describe(svc: Services, tenant_id: str, file_id: str) -> dict[str, Any]:
    stored = find(svc, tenant_id, file_id)
    if stored is None:
        raise NotFound(
            f"No file {file_id} for this tenant: not uploaded (yet), or deleted {FILE_RETENTION_DAYS} days "
            "after its upload."
        )
    return {
        "file_id": stored.file_id,
        "name": stored.name,
        "size_bytes": stored.size_bytes,
        "content_type": stored.content_type,
        "uploaded_at": iso(stored.uploaded_at),
        "expires_at": iso(expires_at(stored)),
    }


def file_refs(inputs: BaseModel) -> list[tuple[str, str]]:
    """(field, file id) for every `FileId` value in a validated input model, nested models, lists
    and dicts included; `field` is dotted like a validation error's (`files.0`)."""
    # Imported here: only a submit reads input models; a status read must not load pydantic.
    from pydantic import BaseModel

    from asyncjobs.actions.base import FileRef

    found: list[tuple[str, str]] = []

    def model(value: BaseModel, prefix: str) -> None:
        for name, field in type(value).model_fields.items():
            # Pydantic moves a field's own Annotated metadata (a bare `FileId`) into `metadata`.
            if any(isinstance(m, FileRef) for m in field.metadata):
                if isinstance(getattr(value, name), str):
                    found.append((prefix + name, getattr(value, name)))
            else:
                walk(field.annotation, getattr(value, name), prefix + name)

    def walk(tp: Any, value: Any, path: str) -> None:
        if value is None:
            return
        if isinstance(value, BaseModel):
            model(value, path + ".")
            return
        origin, args = get_origin(tp), get_args(tp)
        if origin is Annotated:
            if any(isinstance(m, FileRef) for m in args[1:]):
                if isinstance(value, str):
                    found.append((path, value))
            else:
                walk(args[0], value, path)
        elif origin in (Union, UnionType):
            for arm in args:
                walk(arm, value, path)
        elif isinstance(value, dict) and len(args) == 2:
            for key, item in value.items():
                walk(args[1], item, f"{path}.{key}")
        elif isinstance(value, list | tuple | set | frozenset) and args:
            positional = origin is tuple and Ellipsis not in args
            for i, item in enumerate(value):
                walk(args[i] if positional and i < len(args) else args[0], item, f"{path}.{i}")

    model(inputs, "")
    # A union whose arms both hold a FileId would report a value twice.
    return list(dict.fromkeys(found))


def check_files(svc: Services, tenant_id: str, inputs: BaseModel) -> None:
    """Refuses (422) a job whose input names a file the tenant has not uploaded (or that expired,
    or is over MAX_UPLOAD_BYTES), naming each such field: one HeadObject per distinct file.

    The job reads its files later, when it runs; this check makes the common mistakes (a typo, a
    forgotten upload, another tenant's id) an answer to the submit instead of a failed job."""
    refs = file_refs(inputs)
    stored = {file_id: find(svc, tenant_id, file_id) for file_id in dict.fromkeys(f for _, f in refs)}
    missing = [(field, f) for field, f in refs if stored[f] is None]
    if missing:
        names = "; ".join(f"body `{field}` names file {f}" for field, f in missing)
        raise FileNotUploaded(
            f"The request is invalid: {names}, which this tenant has not uploaded (or it expired). "
            f"Upload files with POST /v2/tenants/{tenant_id}/files first."
        )
    large = [
        (field, f, s.size_bytes) for field, f in refs if (s := stored[f]) and s.size_bytes > MAX_UPLOAD_BYTES
    ]
    if large:
        names = "; ".join(f"body `{field}` names file {f} of {size} bytes" for field, f, size in large)
        raise FileTooLarge(f"The request is invalid: {names}; the limit is {MAX_UPLOAD_BYTES} bytes.")
