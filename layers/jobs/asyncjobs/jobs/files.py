"""Result files (e.g. PDFs) too large for a DynamoDB item: stored in S3, handed out by signed URL."""

from __future__ import annotations

import hashlib
from typing import Any

from asyncjobs.aws.clients import AWS_ERRORS
from asyncjobs.errors import InfrastructureError


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

    def download_url(self, key: str, expires_in: int) -> str:
        # Signed when read, not when written: a URL signed by the executor's role session would
        # stop working when that session's credentials expire, long before the job does.
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url
