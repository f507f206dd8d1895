"""The Python client of the asyncjobs API: `Client` (blocking) and `AsyncClient`, typed models,
`webhooks.verify` for receivers, and the `asyncjobs` CLI."""

from __future__ import annotations

__version__ = "0.1.0"

from asyncjobs_client.client import AsyncClient, AsyncJob, Client, Job
from asyncjobs_client.errors import (
    ApiError,
    AsyncJobsError,
    BadRequest,
    ConfigurationError,
    Conflict,
    Forbidden,
    JobCancelled,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    UnsupportedMediaType,
    ValidationFailed,
    WaitTimeout,
    WebhookVerificationError,
)
from asyncjobs_client.models import (
    Delivery,
    JobError,
    JobState,
    RecoverResult,
    ResultFile,
    Subscription,
    WebhookEvent,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "AsyncJob",
    "AsyncJobsError",
    "BadRequest",
    "Client",
    "ConfigurationError",
    "Conflict",
    "Delivery",
    "Forbidden",
    "Job",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobState",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RecoverResult",
    "ResultFile",
    "ServerError",
    "ServiceUnavailable",
    "Subscription",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WaitTimeout",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
]
