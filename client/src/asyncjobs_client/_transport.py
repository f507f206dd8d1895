"""The two transports: each sends a `Call` with its retries, pages through a listing and drives
a wait, one blocking (httpx.Client), one with `await` (httpx.AsyncClient). Everything they decide
comes from `_core`; this module only does the I/O and the sleeping."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx

from asyncjobs_client import __version__
from asyncjobs_client._core import Call, RetryPolicy, Waiter
from asyncjobs_client.errors import TransportError

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
        return http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            headers=call.headers,
            timeout=httpx.Timeout(self.timeout, read=self.timeout + call.wait_s),
        )

    def delay_after_failure(self, call: Call[Any], exc: httpx.TransportError, attempt: int) -> float:
        """Seconds to wait before retrying; raises TransportError when the policy gives up."""
        delay = self.policy.after_exception(call, exc, attempt)
        if delay is None:
            raise TransportError(f"{call.method} {call.path} failed: {type(exc).__name__}: {exc}") from exc
        return delay


class SyncTransport(_Base):
    def __init__(self, *args: Any, http: httpx.Client | None = None) -> None:
        super().__init__(*args)
        self.http = http or httpx.Client(**self.options)

    def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                resp = self.http.send(self.request(self.http, call))
            except httpx.TransportError as exc:
                delay = self.delay_after_failure(call, exc, attempt)
            else:
                if (delay := self.policy.after_response(call, resp, attempt)) is None:
                    return call.parse(resp)
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
        while (call := waiter.next_call()) is not None:
            self.send(call)
        return waiter.job.state

    @staticmethod
    def then(value: Any, step: Callable[[Any], T]) -> T:
        return step(value)

    def close(self) -> None:
        self.http.close()


class AsyncTransport(_Base):
    def __init__(self, *args: Any, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(*args)
        self.http = http or httpx.AsyncClient(**self.options)

    async def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                resp = await self.http.send(self.request(self.http, call))
            except httpx.TransportError as exc:
                delay = self.delay_after_failure(call, exc, attempt)
            else:
                if (delay := self.policy.after_response(call, resp, attempt)) is None:
                    return call.parse(resp)
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
        while (call := waiter.next_call()) is not None:
            await self.send(call)
        return waiter.job.state

    @staticmethod
    async def then(value: Awaitable[Any], step: Callable[[Any], Any]) -> Any:
        out = step(await value)
        return await out if inspect.isawaitable(out) else out

    async def close(self) -> None:
        await self.http.aclose()
