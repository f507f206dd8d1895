"""What the sync and async clients share, free of I/O: a request (`Call`) with its retry rule and
the parser of its answer, the retry decisions, the error mapping, and the wait loop's steps. The
two transports (`_transport.py`) only send calls and sleep."""

from __future__ import annotations

import email.utils
import enum
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from asyncjobs_client.errors import ApiError, WaitTimeout, error_class
from asyncjobs_client.models import JobState

T = TypeVar("T")

MAX_WAIT_S = 25  # the API caps `Prefer: wait=N` at 25 s (API Gateway ends requests at 30 s)
MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After is not slept through: the error is raised


class Retry(enum.Enum):
    ALWAYS = "always"
    """Idempotent: GET, PATCH, DELETE, cancel, redeliver, recover, and runs (which always carry an
    Idempotency-Key, the same on every attempt). Retried on 429, 503, connection errors and
    timeouts, and on a 409 with Retry-After (the same key still in flight)."""
    SAFE_ONLY = "safe_only"
    """Not idempotent (webhooks create, rotate-secret, ping): retried only where the request
    certainly had no effect: a connection that could not be made, and a 429 (API Gateway's
    throttling refuses before any function runs). A 503 or a dropped connection may follow a
    write, so a retry could create a second subscription or rotate twice: it is raised."""


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry: Retry = Retry.ALWAYS
    wait_s: int = 0
    """A `Prefer: wait` the server may hold the request for: added to the read timeout."""


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, unless the answer says when (`Retry-After`)."""

    max_retries: int = 3
    base_s: float = 0.5
    cap_s: float = 8.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))

    def after_response(self, call: Call[Any], resp: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying this answer, or None to take it as final."""
        if attempt >= self.max_retries:
            return None
        status = resp.status_code
        retryable = status == 429 or (call.retry is Retry.ALWAYS and status == 503)
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        keyed = "Idempotency-Key" in call.headers
        if status == 409 and keyed and retry_after is not None:
            retryable = True  # the first request with this key is still being accepted
        if not retryable:
            return None
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= MAX_RETRY_AFTER_S else None

    def after_exception(self, call: Call[Any], exc: httpx.TransportError, attempt: int) -> float | None:
        """Seconds to wait before retrying after a transport error, or None to give up."""
        if attempt >= self.max_retries:
            return None
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if never_sent or call.retry is Retry.ALWAYS:
            return self.backoff(attempt)
        return None


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds, or as an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_REQUEST_ID_HEADERS = ("apigw-requestid", "x-amzn-requestid", "x-request-id")


def api_error(resp: httpx.Response) -> ApiError:
    """The exception for an error answer: the API's `{"error": {...}}`, API Gateway's
    `{"message": ...}`, or whatever text came."""
    try:
        body = resp.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    code, message, details = _default_code(resp.status_code), resp.text.strip()[:500], None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        details = error.get("details")
    elif isinstance(body, dict) and "message" in body:
        message = str(body["message"])
    request_id = next((resp.headers[h] for h in _REQUEST_ID_HEADERS if h in resp.headers), None)
    return error_class(resp.status_code)(
        resp.status_code,
        code,
        message or resp.reason_phrase,
        details,
        request_id,
        parse_retry_after(resp.headers.get("retry-after")),
    )


def _default_code(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        413: "payload_too_large",
        429: "too_many_requests",
        503: "service_unavailable",
    }.get(status, "http_error" if status < 500 else "server_error")


def json_of(resp: httpx.Response) -> Any:
    """The body of a successful answer; raises the ApiError of an unsuccessful one."""
    if resp.status_code >= 400:
        raise api_error(resp)
    if resp.status_code == 204 or not resp.content:
        return None
    return resp.json()


def parser(build: Callable[[Any], T]) -> Callable[[httpx.Response], T]:
    return lambda resp: build(json_of(resp))


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Waiter:
    """The steps of `Job.wait`: each step is one status request with `Prefer: wait=N`, so the
    server holds it until the job ends (it notices within 0.5 s) or N seconds pass. With an
    `on_progress` callback, N is cut to `poll_interval` so progress is reported as it moves;
    without one, N is as long as the API allows (25 s), the remaining timeout permitting."""

    def __init__(
        self,
        job: Any,
        timeout: float | None,
        poll_interval: float,
        on_progress: Callable[[JobState], object] | None,
    ) -> None:
        self.job = job
        self.timeout = timeout
        self.poll_interval = max(1, int(poll_interval))
        self.on_progress = on_progress
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self._reported: tuple[int, str] | None = None

    def next_call(self) -> Call[JobState] | None:
        """The next status request, None once the job has ended; raises WaitTimeout past the
        deadline."""
        state = self.job.state
        if state is not None:
            self._report(state)
            if state.done:
                return None
        wait = MAX_WAIT_S if self.on_progress is None else self.poll_interval
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 and state is not None:
                raise WaitTimeout(state, self.timeout or 0.0)
            wait = min(wait, math.ceil(remaining))
        return self.job._status_call(wait)

    def _report(self, state: JobState) -> None:
        seen = (state.progress, state.status)
        if self.on_progress is not None and seen != self._reported:
            self._reported = seen
            self.on_progress(state)
