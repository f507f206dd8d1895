"""What the sync and async clients share, free of I/O: a request (`Call`) with its retry rule and
the parser of its answer, the retry decisions, the error mapping, and the wait loop's steps. The
two transports (`_transport.py`) only send calls and sleep."""

from __future__ import annotations

import dataclasses
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

from asyncjobs_client.errors import ApiError, AsyncJobsError, UnexpectedResponse, WaitTimeout, error_class
from asyncjobs_client.models import JobState

T = TypeVar("T")

MAX_WAIT_S = 25  # the API caps `Prefer: wait=N` at 25 s (API Gateway ends requests at 30 s)
MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After is not slept through: the error is raised


class Retry(enum.Enum):
    ALWAYS = "always"
    """Idempotent: GET, PATCH, DELETE, cancel, recover, and runs (which always carry an
    Idempotency-Key, the same on every attempt). Retried on 429, 503, connection errors and
    timeouts, and on a 409 with Retry-After (the same key still in flight)."""
    SAFE_ONLY = "safe_only"
    """Not idempotent (webhooks create, rotate-secret, ping, redeliver): retried only where the request
    certainly had no effect: a connection that could not be made, and a 429 (API Gateway's
    throttling refuses before any function runs). A 503 or a dropped connection may follow a
    write, so a retry could create a second subscription, rotate twice or redeliver twice: it is
    raised."""


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
    deadline: float | None = None
    """A `time.monotonic()` past which no attempt is made or waited for (`Job.wait`'s timeout):
    the read timeout is cut to the time left, and a retry that would start later raises
    `DeadlineReached`."""
    done_if_repeated: frozenset[int] = frozenset()
    """Statuses that mean success on a retry after an attempt that may have arrived (a lost
    answer): a DELETE answered 404 because its first attempt deleted."""


class DeadlineReached(Exception):
    """A call's deadline came before its answer (turned into `WaitTimeout` by the wait)."""


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


def json_of(resp: httpx.Response, empty_ok: bool = False) -> Any:
    """The JSON object of a successful answer; raises the ApiError of an unsuccessful one, and
    `UnexpectedResponse` for a redirect or a 2xx that is not the API's JSON (a base URL that is
    not the API: a web page, an http:// address redirecting to https)."""
    status = resp.status_code
    if status >= 400:
        raise api_error(resp)
    if 300 <= status < 400:
        where = resp.headers.get("location")
        raise unexpected(
            resp, f"a redirect to {where} (is the base URL the API's?)" if where else "a redirect"
        )
    if status == 204 or not resp.content:
        if empty_ok:
            return None
        raise unexpected(resp, "an empty answer where the API sends a JSON object")
    try:
        doc = resp.json()
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        kind = resp.headers.get("content-type") or "no content type"
        raise unexpected(resp, f"an answer that is not the API's JSON ({kind}): {resp.text.strip()[:80]!r}")
    return doc


def unexpected(resp: httpx.Response, what: str) -> UnexpectedResponse:
    try:
        where = f"{resp.request.method} {resp.request.url}"
    except RuntimeError:  # a response built without its request
        where = "the request"
    return UnexpectedResponse(resp.status_code, "unexpected_response", f"{where} got {what}")


def parser(build: Callable[[Any], T]) -> Callable[[httpx.Response], T]:
    return lambda resp: build(json_of(resp))


def finish(call: Call[T], resp: httpx.Response, uncertain: bool) -> T:
    """The parsed final answer. `uncertain`: an earlier attempt may have arrived (its answer was
    lost), so a `done_if_repeated` status is the success the first attempt had. A 2xx the parser
    cannot read is an `UnexpectedResponse`, not a KeyError."""
    if uncertain and resp.status_code in call.done_if_repeated:
        return None  # type: ignore[return-value]  # only calls whose success is None
    try:
        return call.parse(resp)
    except AsyncJobsError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise unexpected(resp, f"a document the client cannot read ({type(exc).__name__}: {exc})") from exc


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Waiter:
    """The steps of `Job.wait`: each step is one status request with `Prefer: wait=N`, so the
    server holds it until the job ends (it notices within 0.5 s) or N seconds pass. With an
    `on_progress` callback, N is cut to `poll_interval` so progress is reported as it moves;
    without one, N is as long as the API allows (25 s), the remaining timeout permitting. Every
    request carries the wait's deadline: a retry is not slept through past it."""

    def __init__(
        self,
        job: Any,
        timeout: float | None,
        poll_interval: float,
        on_progress: Callable[[JobState], object] | None,
    ) -> None:
        self.job = job
        self.timeout = timeout
        # `Prefer: wait` takes whole seconds: a shorter interval is 1 s (the API answers at once
        # when the job ends, so this only spaces progress reports).
        self.poll_interval = max(1, math.ceil(poll_interval))
        self.on_progress = on_progress
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self._reported: tuple[int, str] | None = None

    def report(self) -> object:
        """Calls `on_progress` with the state read last if its progress or status is new, and
        returns what the callback returned (an awaitable, for an `async def` one)."""
        state = self.job.state
        if state is None or self.on_progress is None or (state.progress, state.status) == self._reported:
            return None
        self._reported = (state.progress, state.status)
        return self.on_progress(state)

    def next_call(self) -> Call[JobState] | None:
        """The next status request, None once the job has ended; raises WaitTimeout past the
        deadline."""
        state = self.job.state
        if state is not None and state.done:
            return None
        wait = MAX_WAIT_S if self.on_progress is None else self.poll_interval
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise self.timed_out()
            wait = min(wait, math.ceil(remaining))
        return dataclasses.replace(self.job._status_call(wait), deadline=self.deadline)

    def timed_out(self) -> WaitTimeout:
        return WaitTimeout(self.job.state, self.timeout or 0.0, self.job.job_id)
