"""The retry decisions, as pure logic: what each kind of request retries, and after how long."""

from __future__ import annotations

import httpx
import pytest

from asyncjobs_client._core import Call, Retry, RetryPolicy, api_error, json_of, parse_retry_after
from asyncjobs_client.errors import RateLimited, ServerError, Unauthorized

POLICY = RetryPolicy(max_retries=3)
GET = Call("GET", "/x", json_of)
RUN = Call("POST", "/x/run", json_of, headers={"Idempotency-Key": "k"})
CREATE = Call("POST", "/webhooks", json_of, retry=Retry.SAFE_ONLY)


def answer(status: int, retry_after: str | None = None, body: bytes = b"") -> httpx.Response:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers, content=body)


@pytest.mark.parametrize(
    ("call", "status", "retry_after", "expected"),
    [
        (GET, 429, "2", 2.0),
        (GET, 503, "1", 1.0),
        (RUN, 409, "1", 1.0),  # the same key still in flight
        (GET, 409, "1", None),  # a 409 of a request without a key is an answer
        (RUN, 409, None, None),  # e.g. cancelling an ended job: no Retry-After
        (CREATE, 429, "1", 1.0),  # throttled before any function ran
        (CREATE, 503, "1", None),  # may follow a write: never retried
        (GET, 500, None, None),
        (GET, 429, "600", None),  # longer than the client sleeps: raised
    ],
)
def test_which_answers_are_retried(call, status, retry_after, expected):
    assert POLICY.after_response(call, answer(status, retry_after), 0) == expected


def test_backoff_without_retry_after_is_capped_and_jittered():
    delays = [POLICY.after_response(GET, answer(503), attempt) for attempt in range(3)]
    assert all(0 <= d <= POLICY.base_s * 2**i for i, d in enumerate(delays))
    assert POLICY.after_response(GET, answer(503), 3) is None  # max_retries reached


def test_transport_errors_retry_only_what_is_safe():
    request = httpx.Request("POST", "http://x/")
    refused = httpx.ConnectError("refused", request=request)
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    late = httpx.ReadTimeout("timed out", request=request)
    assert POLICY.after_exception(CREATE, refused, 0) is not None  # never sent
    assert POLICY.after_exception(CREATE, dropped, 0) is None
    assert POLICY.after_exception(CREATE, late, 0) is None
    assert POLICY.after_exception(RUN, dropped, 0) is not None  # the key makes it safe
    assert POLICY.after_exception(GET, late, 0) is not None


def test_error_bodies_of_the_api_and_of_api_gateway():
    ours = api_error(answer(401, body=b'{"error": {"code": "unauthorized", "message": "Unknown key."}}'))
    assert isinstance(ours, Unauthorized) and (ours.code, ours.message) == ("unauthorized", "Unknown key.")
    gateway = api_error(answer(429, "1", b'{"message":"Too Many Requests"}'))
    assert (
        isinstance(gateway, RateLimited) and gateway.code == "too_many_requests" and gateway.retry_after == 1
    )
    text = api_error(answer(502, body=b"Bad Gateway"))
    assert isinstance(text, ServerError) and text.message == "Bad Gateway"


def test_retry_after_as_an_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
