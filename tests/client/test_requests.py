"""The client's request building without a stack: what it sends for given arguments (an httpx
MockTransport records the requests)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import get_origin, get_type_hints

import httpx
import pytest

from asyncjobs_client import AsyncClient, AsyncJobsError, Client


@pytest.fixture
def local_time_in_tokyo():
    """A machine whose local time is UTC+9, as a caller's laptop may be."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def _recording_client(sent: list[httpx.Request], answer: dict) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=answer)

    http = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(handler))
    return Client("http://api.test", "ajk_x_y", "t", http=http)


def test_recover_since_a_naive_local_datetime_is_sent_as_that_instant(local_time_in_tokyo):
    """`recover(sub_id, since)` takes a `datetime`; the API reads a time without an offset as UTC.
    A naive `datetime.now() - 1 h` (Python's local time) must reach the API as one hour ago, not
    as a time 8 hours in the future that recovers nothing."""
    sent: list[httpx.Request] = []
    with _recording_client(sent, {"requeued": 0, "next_cursor": None}) as client:
        client.webhooks.recover("sub_1", since=datetime.now() - timedelta(hours=1))

    since = datetime.fromisoformat(json.loads(sent[0].content)["since"])
    as_the_api_reads_it = since if since.tzinfo else since.replace(tzinfo=UTC)
    expected = datetime.now(UTC) - timedelta(hours=1)
    assert abs(as_the_api_reads_it - expected) < timedelta(minutes=1), (since, expected)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html>Welcome</html>"),
        httpx.Response(301, headers={"location": "https://api.test/v2/tenants/t/diagnostic/run"}),
        httpx.Response(204),
    ],
    ids=["html-page", "redirect", "empty"],
)
def test_an_answer_that_is_not_the_apis_raises_the_clients_error(answer):
    """README: errors are `ApiError`/`TransportError`, all `AsyncJobsError`. A base URL that is not
    the API (a web page, a redirect to https) must not surface as JSONDecodeError or TypeError."""
    http = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(lambda _: answer))
    with Client("http://api.test", "ajk_x_y", "t", http=http) as client, pytest.raises(AsyncJobsError):
        client.run("diagnostic", {})


def test_the_async_clients_methods_are_typed_as_awaitables():
    """README: "`AsyncClient` has the same surface with `await` on every call and `async for` over
    listings". Its annotations are the blocking client's (`run -> Job`, `jobs.list -> Iterator`), so
    a type checker rejects `await client.run(...)` and `async for row in client.jobs.list()`, and
    accepts the bugs (`client.run(...).job_id` without await)."""
    async_client = AsyncClient("http://api.test", "ajk_x_y", "t")
    run = get_type_hints(type(async_client).run)["return"]
    listing = get_type_hints(type(async_client.jobs).list)["return"]
    assert get_origin(run) in (Awaitable, Coroutine), run
    assert get_origin(listing) is AsyncIterator, listing
