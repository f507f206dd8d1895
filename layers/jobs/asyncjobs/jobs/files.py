"""Files in the results bucket: result files (e.g. PDFs) and inputs too large for a DynamoDB item,
handed out by signed URL, and files tenants upload as inputs (`uploads/{tenant_id}/{file_id}`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from asyncjobs.aws.clients import AWS_ERRORS, ClientError
from asyncjobs.errors import InfrastructureError
from asyncjobs.jobs.ids import new_file_id

# HeadObject answers a missing key with a bare 404 (no body, so no NoSuchKey code); GetObject
# with NoSuchKey. On AWS, without s3:ListBucket (no function has it: it would let a function list
# every tenant's files), S3 answers a missing key with 403 instead; the roles can read every key
# under uploads/, so a 403 there means the file is not there.
_MISSING = {"404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden"}


@dataclass(frozen=True)
class StoredUpload:
    """What HeadObject tells of an uploaded file."""

    file_id: str
    size_bytes: int
    content_type: str
    uploaded_at: float
    name: str | None


class UploadTooLarge(Exception):
    """An uploaded file over the size the reader accepts."""

    def __init__(self, size_bytes: int) -> None:
        super().__init__(f"{size_bytes} bytes")
        self.size_bytes = size_bytes


def _meta_name(name: str) -> str:
    """A file name as S3 metadata: percent-encoded (metadata travels as an HTTP header, so ASCII
    only) and cut to 1 KB encoded, well inside S3's 2 KB for all user metadata."""
    name = name[:255]
    while len(quote(name, safe="")) > 1024:
        name = name[:-1]
    return quote(name, safe="")


def _missing(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and str(exc.response.get("Error", {}).get("Code")) in _MISSING


class ResultFiles:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    @staticmethod
    def key_for(tenant_id: str, job_id: str, name: str) -> str:
        return f"results/{tenant_id}/{job_id}/{name}"

    @staticmethod
    def input_key_for(tenant_id: str, job_id: str) -> str:
        return f"inputs/{tenant_id}/{job_id}/input.json"

    def put_input(self, tenant_id: str, job_id: str, input_json: str) -> str:
        """Stores an input too large for the job's item; returns its key."""
        key = self.input_key_for(tenant_id, job_id)
        self._put(key, input_json.encode(), "application/json")
        return key

    def read(self, key: str) -> bytes:
        try:
            data: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except AWS_ERRORS as exc:
            raise InfrastructureError(f"S3 GetObject failed: {exc}") from exc
        return data

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)
        except AWS_ERRORS as exc:
            raise InfrastructureError(f"S3 PutObject failed: {exc}") from exc

    def put(self, tenant_id: str, job_id: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        key = self.key_for(tenant_id, job_id, name)
        self._put(key, data, content_type)
        return {
            "name": name,
            "key": key,
            "content_type": content_type,
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    # -- uploaded files ------------------------------------------------------------------------
    @staticmethod
    def upload_key_for(tenant_id: str, file_id: str) -> str:
        # Per tenant: another tenant's file id names a key that does not exist under this prefix.
        return f"uploads/{tenant_id}/{file_id}"

    def upload_form(
        self,
        tenant_id: str,
        file_id: str,
        *,
        max_bytes: int,
        expires_in: int,
        content_type: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """A presigned POST (`{"url", "fields"}`) that stores one file of at most `max_bytes` at
        the file's key. Fields the caller must send unchanged are fixed by the policy; the content
        type is fixed when given, else the caller's own `Content-Type` field is accepted."""
        fields: dict[str, str] = {}
        conditions: list[Any] = [["content-length-range", 0, max_bytes]]
        if content_type is None:
            conditions.append(["starts-with", "$Content-Type", ""])
        else:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        if name is not None:
            fields["x-amz-meta-name"] = _meta_name(name)
            conditions.append({"x-amz-meta-name": fields["x-amz-meta-name"]})
        # Signing is local (no request is sent); the URL works only if this role may PutObject.
        form: dict[str, Any] = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=self.upload_key_for(tenant_id, file_id),
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return form

    def head_upload(self, tenant_id: str, file_id: str) -> StoredUpload | None:
        """The uploaded file, or None if there is none under this tenant (or it expired)."""
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=self.upload_key_for(tenant_id, file_id))
        except AWS_ERRORS as exc:
            if _missing(exc):
                return None
            raise InfrastructureError(f"S3 HeadObject failed: {exc}") from exc
        return self._stored(file_id, head)

    def read_upload(self, tenant_id: str, file_id: str, max_bytes: int) -> bytes | None:
        """The uploaded file's bytes, or None if there is none under this tenant (or it expired).
        Raises UploadTooLarge past `max_bytes`, without reading it: S3 enforces an upload form's
        size limit, but a test double (moto) does not, and a stored object may predate a limit."""
        try:
            got = self._s3.get_object(Bucket=self._bucket, Key=self.upload_key_for(tenant_id, file_id))
            if int(got["ContentLength"]) > max_bytes:
                got["Body"].close()
                raise UploadTooLarge(int(got["ContentLength"]))
            # One byte past the limit: a length the headers understated cannot slip through.
            data: bytes = got["Body"].read(max_bytes + 1)
        except AWS_ERRORS as exc:
            if _missing(exc):
                return None
            raise InfrastructureError(f"S3 GetObject failed: {exc}") from exc
        if len(data) > max_bytes:
            raise UploadTooLarge(len(data))
        return data

    def put_upload(self, tenant_id: str, data: bytes, name: str, content_type: str) -> str:
        """Stores a file that arrived inside a request (a multipart form); returns its new file id."""
        file_id = new_file_id()
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=self.upload_key_for(tenant_id, file_id),
                Body=data,
                ContentType=content_type,
                Metadata={"name": _meta_name(name)},
            )
        except AWS_ERRORS as exc:
            raise InfrastructureError(f"S3 PutObject failed: {exc}") from exc
        return file_id

    @staticmethod
    def _stored(file_id: str, head: dict[str, Any]) -> StoredUpload:
        name = (head.get("Metadata") or {}).get("name")
        return StoredUpload(
            file_id=file_id,
            size_bytes=int(head["ContentLength"]),
            content_type=head.get("ContentType") or "application/octet-stream",
            uploaded_at=head["LastModified"].timestamp(),
            name=unquote(name) if name else None,
        )

    def download_url(self, key: str, expires_in: int) -> str:
        # Signed when read, not when written: a URL signed by the executor's role session would
        # stop working when that session's credentials expire, long before the job does.
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url
