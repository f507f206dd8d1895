"""The two transports: each sends a `Call` with its retries, pages through a listing and drives
a wait, one blocking (httpx.Client), one with `await` (httpx.AsyncClient). Everything they decide
comes from `_core`; this module only does the I/O and the sleeping."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import httpx

from asyncjobs_client import __version__
from asyncjobs_client._core import Call, DeadlineReached, RetryPolicy, Waiter, finish
from asyncjobs_client.errors import AsyncJobsError, TransportError

T = TypeVar("T")
Page = tuple[list[Any], str | None]


class _Base:
    def __init__(self, base_url: str, api_key: str, timeout: float, policy: RetryPolicy) -> None:
        self.timeout = timeout
        self.policy = policy
        self.options: dict[str, Any] = {
            "base_url": base_url.rstrip("/"),
            "headers": {
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"asyncjobs-client/{__version__}",
            },
            "timeout": timeout,
            "follow_redirects": False,
        }

    def request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        read = self.timeout + call.wait_s
        if call.deadline is not None:  # not read past the caller's deadline
            read = max(0.05, min(read, call.deadline - time.monotonic()))
        return http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            headers=call.headers,
            timeout=httpx.Timeout(self.timeout, read=read),
        )

    def after_failure(self, call: Call[Any], exc: httpx.TransportError, attempt: int) -> float:
        """Seconds to wait before retrying; raises TransportError when the policy gives up."""
        delay = self.policy.after_exception(call, exc, attempt)
        if delay is None:
            self.check_deadline(call, 0.0)
            error = TransportError(f"{call.method} {call.path} failed: {type(exc).__name__}: {exc}")
            raise _keyed(error, call) from exc
        return self.check_deadline(call, delay)

    def after_answer(self, call: Call[T], resp: httpx.Response, attempt: int, uncertain: bool) -> T | Again:
        """The parsed answer, or `Again(seconds)` to wait before retrying it."""
        delay = self.policy.after_response(call, resp, attempt)
        if delay is not None:
            return Again(self.check_deadline(call, delay))
        try:
            return finish(call, resp, uncertain)
        except AsyncJobsError as exc:
            _keyed(exc, call)
            raise

    @staticmethod
    def check_deadline(call: Call[Any], delay: float) -> float:
        if call.deadline is not None and time.monotonic() + delay >= call.deadline:
            raise DeadlineReached
        return delay

    @staticmethod
    def may_have_arrived(exc: httpx.TransportError) -> bool:
        return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class Again(float):
    """Seconds to wait before the next attempt."""


def _keyed(exc: AsyncJobsError, call: Call[Any]) -> AsyncJobsError:
    """The error of a run names the Idempotency-Key its attempts carried."""
    exc.idempotency_key = call.headers.get("Idempotency-Key")
    return exc


class SyncTransport(_Base):
    def __init__(self, *args: Any, http: httpx.Client | None = None) -> None:
        super().__init__(*args)
        self.http = http or httpx.Client(**self.options)

    def send(self, call: Call[T]) -> T:
        attempt, uncertain = 0, False
        while True:
            try:
                resp = self.http.send(self.request(self.http, call))
            except httpx.TransportError as exc:
                uncertain = uncertain or self.may_have_arrived(exc)
                delay = self.after_failure(call, exc, attempt)
            else:
                outcome = self.after_answer(call, resp, attempt, uncertain)
                if not isinstance(outcome, Again):
                    return outcome
                delay = outcome
            time.sleep(delay)
            attempt += 1

    def pages(self, page_call: Callable[[str | None], Call[Page]]) -> Iterator[Any]:
        cursor = None
        while True:
            items, cursor = self.send(page_call(cursor))
            yield from items
            if not cursor:
                return

    def drive(self, waiter: Waiter) -> Any:
        try:
            while True:
                waiter.report()
                if (call := waiter.next_call()) is None:
                    return waiter.job.state
                self.send(call)
        except DeadlineReached:
            raise waiter.timed_out() from None

    def close(self) -> None:
        self.http.close()


class AsyncTransport(_Base):
    def __init__(self, *args: Any, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(*args)
        self.http = http or httpx.AsyncClient(**self.options)

    async def send(self, call: Call[T]) -> T:
        attempt, uncertain = 0, False
        while True:
            try:
                resp = await self.http.send(self.request(self.http, call))
            except httpx.TransportError as exc:
                uncertain = uncertain or self.may_have_arrived(exc)
                delay = self.after_failure(call, exc, attempt)
            else:
                outcome = self.after_answer(call, resp, attempt, uncertain)
                if not isinstance(outcome, Again):
                    return outcome
                delay = outcome
            await asyncio.sleep(delay)
            attempt += 1

    async def pages(self, page_call: Callable[[str | None], Call[Page]]) -> AsyncIterator[Any]:
        cursor = None
        while True:
            items, cursor = await self.send(page_call(cursor))
            for item in items:
                yield item
            if not cursor:
                return

    async def drive(self, waiter: Waiter) -> Any:
        """As the blocking one; an `async def` on_progress is awaited."""
        try:
            while True:
                if inspect.isawaitable(reported := waiter.report()):
                    await reported
                if (call := waiter.next_call()) is None:
                    return waiter.job.state
                await self.send(call)
        except DeadlineReached:
            raise waiter.timed_out() from None

    async def close(self) -> None:
        await self.http.aclose()
