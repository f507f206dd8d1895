"""What the client raises: API errors by status, transport failures, jobs that did not succeed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncjobs_client.models import JobState

__all__ = [
    "ApiError",
    "AsyncJobsError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "JobCancelled",
    "JobFailed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WaitTimeout",
    "WebhookVerificationError",
]


class AsyncJobsError(Exception):
    """Everything this package raises derives from this."""

    idempotency_key: str | None = None
    """On an error of `run` / `run_many`: the `Idempotency-Key` every attempt carried. After a
    `TransportError` or a 5xx the job may have started: retry with this key to get it, not a
    second one."""


class ConfigurationError(AsyncJobsError, ValueError):
    """The client lacks its URL, API key or tenant."""


class ApiError(AsyncJobsError):
    """The API answered with an error: `{"error": {code, message, details}}` (or API Gateway's
    own `{"message": ...}`, whose `code` is then derived from the status)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequest(ApiError):
    """400, e.g. `malformed_json`."""


class Unauthorized(ApiError):
    """401: a missing, unknown or revoked API key."""


class Forbidden(ApiError):
    """403: a key of another tenant than the one in the path."""


class NotFound(ApiError):
    """404: unknown job, subscription, delivery, action or route."""


class Conflict(ApiError):
    """409: a job that has ended cannot be cancelled; an Idempotency-Key still in flight; limits."""


class PayloadTooLarge(ApiError):
    """413."""


class UnsupportedMediaType(ApiError):
    """415."""


class ValidationFailed(ApiError):
    """422: `message` names every field and what is wrong; `details` lists them."""


class RateLimited(ApiError):
    """429: throttled (still so after the client's retries)."""


class ServiceUnavailable(ApiError):
    """503: the service failed after its retries (still so after the client's)."""


class ServerError(ApiError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_class(status: int) -> type[ApiError]:
    return _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)


class TransportError(AsyncJobsError):
    """The request could not be completed (connection refused or dropped, timeout) after the
    client's retries; the httpx exception is the `__cause__`."""


class UnexpectedResponse(ApiError):
    """An answer that is not the API's: a redirect (`message` names its `Location`), or a 2xx
    whose body is not the JSON the API sends (a web page, an empty answer). The base URL is
    probably not the API's."""


class WaitTimeout(AsyncJobsError, TimeoutError):
    """The job had not ended when `wait` (or `result`) gave up; the job goes on. `job` is the
    last state read (None if no status could be read in time)."""

    def __init__(self, job: JobState | None, timeout: float, job_id: str | None = None) -> None:
        job_id = job.job_id if job is not None else job_id
        seen = f"still {job.status} (progress {job.progress}%)" if job is not None else "not read"
        super().__init__(f"job {job_id} {seen} after {timeout:g} s")
        self.job = job
        self.job_id = job_id
        self.timeout = timeout


class JobFailed(AsyncJobsError):
    """The job ended `failed`: `code` and `message` are the job's `error`."""

    def __init__(self, job: JobState) -> None:
        error = job.error
        self.job = job
        self.code = error.code if error else "unknown"
        self.message = error.message if error else "the job failed"
        super().__init__(f"job {job.job_id} failed: {self.code}: {self.message}")


class JobCancelled(AsyncJobsError):
    """The job ended `cancelled`."""

    def __init__(self, job: JobState) -> None:
        super().__init__(f"job {job.job_id} was cancelled")
        self.job = job


class WebhookVerificationError(AsyncJobsError):
    """A webhook whose signature does not match its body and headers, or whose timestamp is too
    old or too far in the future (a replay): do not act on it."""
