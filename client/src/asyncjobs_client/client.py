"""`Client` and `AsyncClient`: one set of requests, two transports.

Each request is built once, by a method of a shared base (`_JobCalls._get`, `_WebhookCalls._create`,
`_ClientBase._run_plan`: a `Call` with its retry rule and parser). The blocking resources (`Jobs`,
`Webhooks`, `Job`) hand it to the blocking transport and return the parsed value; the async ones
(`AsyncJobs`, `AsyncWebhooks`, `AsyncJob`) hand it to the async transport and return an awaitable
of it (an async iterator for listings), so each flavour is typed as it is used and no line of
request logic is written twice.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx

from asyncjobs_client._core import (
    MAX_WAIT_S,
    Call,
    Retry,
    RetryPolicy,
    Waiter,
    json_of,
    parser,
)
from asyncjobs_client._transport import AsyncTransport, SyncTransport
from asyncjobs_client.errors import ConfigurationError, JobCancelled, JobFailed
from asyncjobs_client.models import Delivery, JobState, RecoverResult, Subscription

__all__ = ["AsyncClient", "AsyncJob", "Client", "Job"]

ALL_EVENTS = ("job.succeeded", "job.failed", "job.cancelled")


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class _Handle:
    """What `Job` and `AsyncJob` share: the job's id, status URL and last status read (`state`),
    and the requests they send."""

    def __init__(
        self,
        client: _ClientBase,
        job_id: str,
        status_url: str | None = None,
        state: JobState | None = None,
        replayed: bool = False,
    ) -> None:
        self._client = client
        self.job_id = job_id
        self.status_url = status_url or client.path("jobs", job_id)
        self.state = state
        self.replayed = replayed
        """True when the API replayed an earlier run with the same Idempotency-Key."""

    def __repr__(self) -> str:
        status = self.state.status if self.state else "?"
        return f"{type(self).__name__}({self.job_id!r}, status={status!r})"

    def _status_call(self, wait: int = 0) -> Call[JobState]:
        headers = {"Prefer": f"wait={wait}"} if wait > 0 else {}
        return Call("GET", self.status_url, self._absorb, headers=headers, wait_s=wait)

    def _absorb(self, resp: httpx.Response) -> JobState:
        self.state = JobState.parse(json_of(resp))
        return self.state

    def _cancel_call(self) -> Call[JobState]:
        return _cancel_call(self._client, self.job_id, self._absorb)

    def _waiter(self, timeout: float | None, on_progress: Any, poll_interval: float) -> Waiter:
        return Waiter(self, timeout, poll_interval, on_progress)

    @property
    def files(self) -> list[Any]:
        return self.state.files if self.state else []


class Job(_Handle):
    """A handle on one job: its id, its status URL and the last status read (`state`)."""

    def refresh(self) -> JobState:
        """Reads the job's status now (one request) and keeps it in `state`."""
        return self._client._t.send(self._status_call())

    status = refresh

    def wait(
        self,
        timeout: float | None = None,
        on_progress: Callable[[JobState], object] | None = None,
        poll_interval: float = 1.0,
    ) -> JobState:
        """Waits for the job to end and returns its final state, whatever the outcome.

        Long polls with `Prefer: wait=N` rather than polling in a loop: the server answers as
        soon as the job ends. `on_progress(state)` is called with each new progress or status
        (then each request waits `poll_interval` seconds at most, whole seconds, at least 1, so
        progress is seen as it moves). Raises `WaitTimeout` (a `TimeoutError`) after `timeout`
        seconds, retries included; the job goes on.
        """
        return self._client._t.drive(self._waiter(timeout, on_progress, poll_interval))

    def result(
        self, timeout: float | None = None, on_progress: Callable[[JobState], object] | None = None
    ) -> Any:
        """The job's result, once it has succeeded (waiting if need be). Raises `JobFailed`
        (with the job's `error.code` and `message`) or `JobCancelled`. A result too large to
        inline is a file: it is then None and `state.files` has its download URL."""
        return _outcome(self.wait(timeout, on_progress))

    def cancel(self) -> JobState:
        return self._client._t.send(self._cancel_call())


class AsyncJob(_Handle):
    """`Job` for `AsyncClient`: `await` its `refresh`, `wait`, `result` and `cancel`; an
    `on_progress` may be an `async def` (it is awaited)."""

    def refresh(self) -> Awaitable[JobState]:
        return self._client._t.send(self._status_call())

    status = refresh

    def wait(
        self,
        timeout: float | None = None,
        on_progress: Callable[[JobState], object] | None = None,
        poll_interval: float = 1.0,
    ) -> Awaitable[JobState]:
        return self._client._t.drive(self._waiter(timeout, on_progress, poll_interval))

    async def result(
        self, timeout: float | None = None, on_progress: Callable[[JobState], object] | None = None
    ) -> Any:
        return _outcome(await self.wait(timeout, on_progress))

    def cancel(self) -> Awaitable[JobState]:
        return self._client._t.send(self._cancel_call())


def _outcome(state: JobState) -> Any:
    if state.status == "failed":
        raise JobFailed(state)
    if state.status == "cancelled":
        raise JobCancelled(state)
    return state.result


def _cancel_call(
    client: _ClientBase, job_id: str, parse: Callable[[httpx.Response], JobState]
) -> Call[JobState]:
    # A retried cancel is answered as the first would have been (the API's promise).
    return Call("POST", client.path("jobs", job_id, "cancel"), parse)


class _JobCalls:
    """The requests of `client.jobs`, sent by `Jobs` (blocking) or `AsyncJobs`."""

    def __init__(self, client: _ClientBase) -> None:
        self._c = client
        self._t: Any = client._t

    def _get(self, job_id: str) -> Call[JobState]:
        return Call("GET", self._c.path("jobs", job_id), parser(JobState.parse))

    def _list(self, action: str | None, status: str | None, limit: int | None) -> PageCalls:
        params = _fields(action=action, status=status, limit=limit)
        return _pages(self._c.path("jobs"), params, "jobs", JobState.parse)

    def _cancel(self, job_id: str) -> Call[JobState]:
        return _cancel_call(self._c, job_id, parser(JobState.parse))


class Jobs(_JobCalls):
    def get(self, job_id: str) -> JobState:
        """Any job of the tenant (a multi-action job with its `actions`)."""
        return self._t.send(self._get(job_id))

    def list(
        self, action: str | None = None, status: str | None = None, limit: int | None = None
    ) -> Iterator[JobState]:
        """Every job of the tenant, newest first, fetched lazily page after page (`limit` per
        page, the API's default 25, at most 100). Stop early with `itertools.islice`."""
        return self._t.pages(self._list(action, status, limit))

    def cancel(self, job_id: str) -> JobState:
        """Cancels a job: a queued one never runs; a running one stops at its next progress
        report (its state then says `cancel_requested`). Raises `Conflict` if it has ended."""
        return self._t.send(self._cancel(job_id))

    def job(self, job_id: str) -> Job:
        """A handle on an existing job (no request is made)."""
        return Job(self._c, job_id)


class AsyncJobs(_JobCalls):
    """`Jobs` for `AsyncClient`: `await` each call, `async for` over `list`."""

    def get(self, job_id: str) -> Awaitable[JobState]:
        return self._t.send(self._get(job_id))

    def list(
        self, action: str | None = None, status: str | None = None, limit: int | None = None
    ) -> AsyncIterator[JobState]:
        return self._t.pages(self._list(action, status, limit))

    def cancel(self, job_id: str) -> Awaitable[JobState]:
        return self._t.send(self._cancel(job_id))

    def job(self, job_id: str) -> AsyncJob:
        return AsyncJob(self._c, job_id)


PageCalls = Callable[[str | None], Call[tuple[list[Any], str | None]]]


def _pages(path: str, params: dict[str, Any], key: str, build: Callable[[dict[str, Any]], Any]) -> PageCalls:
    """The request of each page of a listing (`next_cursor` to `cursor`)."""

    def page(cursor: str | None) -> Call[Any]:
        query = params | ({"cursor": cursor} if cursor else {})
        return Call(
            "GET", path, parser(lambda doc: (_items(doc, key, build), doc.get("next_cursor"))), params=query
        )

    return page


def _items(doc: dict[str, Any], key: str, build: Callable[[dict[str, Any]], Any]) -> list[Any]:
    return [build(item) for item in doc.get(key) or []]


class SubscriptionOptions(TypedDict, total=False):
    actions: Iterable[str] | None
    """Only these actions' jobs (default: every action)."""
    auth: dict[str, Any] | None
    description: str | None


class _WebhookCalls:
    """The requests of the Webhooks API, sent by `Webhooks` (blocking) or `AsyncWebhooks`.
    Create, rotate-secret, ping and redeliver are not idempotent: they are retried only when the
    request certainly did not arrive (see `Retry.SAFE_ONLY`). A DELETE retried after a lost
    answer and answered 404 has deleted (its first attempt did)."""

    def __init__(self, client: _ClientBase) -> None:
        self._c = client
        self._t: Any = client._t

    def _path(self, *segments: str) -> str:
        return self._c.path("webhooks", *segments)

    def _create(
        self,
        url: str,
        events: Iterable[str],
        *,
        actions: Iterable[str] | None = None,
        auth: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> Call[Subscription]:
        body = _fields(
            url=url,
            events=list(events),
            actions=actions and list(actions),
            auth=auth,
            description=description,
        )
        return Call("POST", self._path(), parser(Subscription.parse), json=body, retry=Retry.SAFE_ONLY)

    def _list(self) -> Call[list[Subscription]]:
        return Call("GET", self._path(), parser(lambda doc: _items(doc, "webhooks", Subscription.parse)))

    def _get(self, sub_id: str) -> Call[Subscription]:
        return Call("GET", self._path(sub_id), parser(Subscription.parse))

    def _update(self, sub_id: str, changes: dict[str, Any]) -> Call[Subscription]:
        return Call("PATCH", self._path(sub_id), parser(Subscription.parse), json=changes)

    def _delete(self, sub_id: str) -> Call[None]:
        empty = functools.partial(json_of, empty_ok=True)
        return Call("DELETE", self._path(sub_id), empty, done_if_repeated=frozenset({404}))

    def _rotate_secret(self, sub_id: str, overlap_seconds: int | None) -> Call[Subscription]:
        body = _fields(overlap_seconds=overlap_seconds)
        path = self._path(sub_id, "rotate-secret")
        return Call("POST", path, parser(Subscription.parse), json=body, retry=Retry.SAFE_ONLY)

    def _ping(self, sub_id: str) -> Call[Delivery]:
        return Call("POST", self._path(sub_id, "ping"), parser(Delivery.parse), retry=Retry.SAFE_ONLY)

    def _recover(self, sub_id: str, since: datetime | str, cursor: str | None) -> Call[RecoverResult]:
        # A naive datetime is local time (as Python reads it); the API reads one without an offset
        # as UTC: send the instant with its offset.
        when = since.astimezone(UTC).isoformat() if isinstance(since, datetime) else since
        body = _fields(since=when, cursor=cursor)
        build = parser(lambda doc: RecoverResult(int(doc["requeued"]), doc.get("next_cursor")))
        return Call("POST", self._path(sub_id, "recover"), build, json=body)

    def _deliveries(self, sub_id: str, status: str | None, limit: int | None) -> PageCalls:
        params = _fields(status=status, limit=limit)
        return _pages(self._path(sub_id, "deliveries"), params, "deliveries", Delivery.parse)

    def _delivery(self, sub_id: str, delivery_id: str) -> Call[Delivery]:
        return Call("GET", self._path(sub_id, "deliveries", delivery_id), parser(Delivery.parse))

    def _redeliver(self, sub_id: str, delivery_id: str) -> Call[Delivery]:
        # Not idempotent: a retry after a lost answer meets the first one's attempt in flight (409)
        # or redelivers a second time.
        path = self._path(sub_id, "deliveries", delivery_id, "redeliver")
        return Call("POST", path, parser(Delivery.parse), retry=Retry.SAFE_ONLY)


class Webhooks(_WebhookCalls):
    """The Webhooks API (see `_WebhookCalls` for what is retried)."""

    def create(
        self, url: str, events: Iterable[str] = ALL_EVENTS, **options: Unpack[SubscriptionOptions]
    ) -> Subscription:
        """A subscription; its `secret` (shown this once) verifies the deliveries."""
        return self._t.send(self._create(url, events, **options))

    def list(self) -> list[Subscription]:
        return self._t.send(self._list())

    def get(self, sub_id: str) -> Subscription:
        return self._t.send(self._get(sub_id))

    def update(self, sub_id: str, **changes: Any) -> Subscription:
        """Changes any of url, events, actions, auth, description, enabled."""
        return self._t.send(self._update(sub_id, changes))

    def delete(self, sub_id: str) -> None:
        return self._t.send(self._delete(sub_id))

    def rotate_secret(self, sub_id: str, overlap_seconds: int | None = None) -> Subscription:
        """A new secret (in the answer's `secret`); the previous ones keep signing for the
        overlap (the API's default: 24 h)."""
        return self._t.send(self._rotate_secret(sub_id, overlap_seconds))

    def ping(self, sub_id: str) -> Delivery:
        return self._t.send(self._ping(sub_id))

    def recover(self, sub_id: str, since: datetime | str, cursor: str | None = None) -> RecoverResult:
        """Requeues failed or exhausted deliveries since then (a naive datetime is local time),
        100 per call: call again with `next_cursor` until it is None."""
        return self._t.send(self._recover(sub_id, since, cursor))

    def deliveries(
        self, sub_id: str, status: str | None = None, limit: int | None = None
    ) -> Iterator[Delivery]:
        """The delivery log, newest first, every page lazily (a page may be short, even empty,
        and still have a next one: the iterator goes on)."""
        return self._t.pages(self._deliveries(sub_id, status, limit))

    def delivery(self, sub_id: str, delivery_id: str) -> Delivery:
        """One delivery with every attempt and the exact payload."""
        return self._t.send(self._delivery(sub_id, delivery_id))

    def redeliver(self, sub_id: str, delivery_id: str) -> Delivery:
        """Sends the delivery again. Not retried after a lost answer (it could deliver twice):
        a `TransportError` then; `delivery()` tells whether it was restarted."""
        return self._t.send(self._redeliver(sub_id, delivery_id))


class AsyncWebhooks(_WebhookCalls):
    """`Webhooks` for `AsyncClient`: `await` each call, `async for` over `deliveries`."""

    def create(
        self, url: str, events: Iterable[str] = ALL_EVENTS, **options: Unpack[SubscriptionOptions]
    ) -> Awaitable[Subscription]:
        return self._t.send(self._create(url, events, **options))

    def list(self) -> Awaitable[list[Subscription]]:
        return self._t.send(self._list())

    def get(self, sub_id: str) -> Awaitable[Subscription]:
        return self._t.send(self._get(sub_id))

    def update(self, sub_id: str, **changes: Any) -> Awaitable[Subscription]:
        return self._t.send(self._update(sub_id, changes))

    def delete(self, sub_id: str) -> Awaitable[None]:
        return self._t.send(self._delete(sub_id))

    def rotate_secret(self, sub_id: str, overlap_seconds: int | None = None) -> Awaitable[Subscription]:
        return self._t.send(self._rotate_secret(sub_id, overlap_seconds))

    def ping(self, sub_id: str) -> Awaitable[Delivery]:
        return self._t.send(self._ping(sub_id))

    def recover(
        self, sub_id: str, since: datetime | str, cursor: str | None = None
    ) -> Awaitable[RecoverResult]:
        return self._t.send(self._recover(sub_id, since, cursor))

    def deliveries(
        self, sub_id: str, status: str | None = None, limit: int | None = None
    ) -> AsyncIterator[Delivery]:
        return self._t.pages(self._deliveries(sub_id, status, limit))

    def delivery(self, sub_id: str, delivery_id: str) -> Awaitable[Delivery]:
        return self._t.send(self._delivery(sub_id, delivery_id))

    def redeliver(self, sub_id: str, delivery_id: str) -> Awaitable[Delivery]:
        return self._t.send(self._redeliver(sub_id, delivery_id))


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _ClientBase:
    """What `Client` and `AsyncClient` share: configuration, paths, and the requests of a run."""

    _flavour: tuple[
        type[SyncTransport] | type[AsyncTransport], type[_Handle], type[_JobCalls], type[_WebhookCalls]
    ]
    """The transport, job handle and resource classes: blocking or async."""
    jobs: _JobCalls
    webhooks: _WebhookCalls

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        tenant_id: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        *,
        http: Any = None,
    ) -> None:
        """`base_url`, `api_key` and `tenant_id` default to the environment variables
        ASYNCJOBS_URL, ASYNCJOBS_API_KEY and ASYNCJOBS_TENANT. The API has no "who am I" route
        and a key does not name its tenant, so the tenant must be given. `http` is an
        httpx.Client / AsyncClient of your own (its base URL and headers are then yours to set)."""
        base_url = base_url or os.environ.get("ASYNCJOBS_URL")
        api_key = api_key or os.environ.get("ASYNCJOBS_API_KEY")
        tenant_id = tenant_id or os.environ.get("ASYNCJOBS_TENANT")
        missing = [
            n for n, v in (("base_url", base_url), ("api_key", api_key), ("tenant_id", tenant_id)) if not v
        ]
        if missing:
            raise ConfigurationError(
                f"missing {', '.join(missing)}: pass it, or set ASYNCJOBS_URL, ASYNCJOBS_API_KEY and "
                "ASYNCJOBS_TENANT"
            )
        self.base_url = str(base_url).rstrip("/")
        self.tenant_id = str(tenant_id)
        self._t: Any = self._flavour[0](
            self.base_url, str(api_key), timeout, RetryPolicy(max_retries), http=http
        )
        self._run_paths: dict[str, str] | None = None
        self.jobs, self.webhooks = self._flavour[2](self), self._flavour[3](self)

    def path(self, *segments: str) -> str:
        """`/v2/tenants/{tenant_id}/<segments>`, each segment percent-encoded."""
        return "/".join(["/v2/tenants", _seg(self.tenant_id), *(_seg(s) for s in segments)])

    def _run_plan(
        self,
        action: str | None,
        inputs: Any,
        *,
        path_params: dict[str, str] | None = None,
        path: str | None = None,
        idempotency_key: str | None = None,
        wait: int | None = None,
    ) -> tuple[Call[None] | None, Callable[[], Call[Any]]]:
        """The request that must come first (reading `/openapi.json` for an action's route), if
        any, and the run's request (built once that one has been answered)."""
        if path is None and action is None:
            raise ConfigurationError("run needs an action name or a path")
        body = {} if inputs is None else inputs  # anything else as given (the API checks it)
        key = idempotency_key or str(uuid.uuid4())

        def call() -> Call[Any]:
            target = path.strip("/") if path is not None else self._run_path(str(action), path_params or {})
            url = "/".join([self.path(), *target.split("/"), "run"])
            return self._run_call(url, body, key, wait)

        first = self._openapi_call() if path is None and path_params and self._run_paths is None else None
        return first, call

    def _run_many_call(
        self, actions: list[dict[str, Any]], *, idempotency_key: str | None = None, wait: int | None = None
    ) -> Call[Any]:
        return self._run_call(
            self.path("jobs"), {"actions": actions}, idempotency_key or str(uuid.uuid4()), wait
        )

    def _run_call(self, url: str, body: Any, key: str, wait: int | None) -> Call[Job]:
        headers = {"Idempotency-Key": key}
        wait_s = 0
        if wait:
            wait_s = min(int(wait), MAX_WAIT_S)
            headers["Prefer"] = f"wait={wait_s}"

        def parse(resp: httpx.Response) -> Job:
            doc = json_of(resp)
            status_url = resp.headers.get("location") or doc.get("status_url")
            replayed = resp.headers.get("idempotent-replayed") == "true"
            return self._flavour[1](self, doc["job_id"], status_url, JobState.parse(doc), replayed)

        return Call("POST", url, parse, json=body, headers=headers, wait_s=wait_s)

    def _run_path(self, action: str, path_params: dict[str, str]) -> str:
        if not path_params:
            return _seg(action)
        template = (self._run_paths or {}).get(action)
        if template is None:
            raise ConfigurationError(f"no run route of action {action!r} takes path parameters; pass path=")
        try:
            return template.format_map({k: _seg(v) for k, v in path_params.items()})
        except KeyError as exc:
            raise ConfigurationError(f"action {action!r} needs path parameter {exc.args[0]!r}") from None

    def _openapi_call(self) -> Call[None]:
        prefix = "/v2/tenants/{tenant_id}/"

        def parse(resp: httpx.Response) -> None:
            if resp.status_code == 404:
                raise ConfigurationError(
                    "this API serves no /openapi.json to find an action's route in (a stack deployed "
                    "before GET /openapi.json existed; redeploy it): pass path= to run"
                )
            paths = json_of(resp).get("paths") or {}
            self._run_paths = {
                p.split("/")[-2]: p.removeprefix(prefix).removesuffix("/run")
                for p in paths
                if p.startswith(prefix) and p.endswith("/run")
            }

        return Call("GET", "/openapi.json", parse)


class RunManyOptions(TypedDict, total=False):
    idempotency_key: str | None
    """Default: a fresh uuid4, the same on every attempt of this call."""
    wait: int | None
    """`Prefer: wait=N`: the API holds its answer up to N s (at most 25) for the job to end."""


class RunOptions(RunManyOptions, total=False):
    path_params: dict[str, str] | None
    path: str | None


_RUN_DOC = """Starts an action and returns its job handle.

        The URL: `path` if given (the action's resource path below the tenant, without `/run`,
        e.g. `designs/d-1/proposal_pdf`); else `<action>` when there are no `path_params`; else
        the action's route template read once from the API's `/openapi.json` (public: the local
        stack and deployed stacks serve it; one deployed before that route did not: pass `path`).

        Every run carries an `Idempotency-Key` (`idempotency_key`, or a fresh uuid4) that is the
        same on every retry of this call, so a retry after a lost answer replays the first job
        instead of starting a second; an error raised names it (`exc.idempotency_key`): run
        again with it to get the job the lost attempt may have started. `wait=N` asks the API to
        hold the answer up to N s (at most 25) for the job to end: the returned job's `state` is
        then final if it did."""


class Client(_ClientBase):
    """The blocking client. Use it as a context manager, or call `close()`."""

    _flavour = (SyncTransport, Job, Jobs, Webhooks)
    jobs: Jobs
    webhooks: Webhooks

    def job(self, job_id: str) -> Job:
        """A handle on an existing job (no request is made)."""
        return Job(self, job_id)

    def run(
        self, action: str | None = None, inputs: dict[str, Any] | None = None, **options: Unpack[RunOptions]
    ) -> Job:
        first, call = self._run_plan(action, inputs, **options)
        if first is not None:
            self._t.send(first)
        return self._t.send(call())

    run.__doc__ = _RUN_DOC

    def run_many(self, actions: list[dict[str, Any]], **options: Unpack[RunManyOptions]) -> Job:
        """One job of 1 to 10 actions run in parallel: each `{"name", "params", "path_params"}`.
        Retries as `run` does (one Idempotency-Key for every attempt)."""
        return self._t.send(self._run_many_call(actions, **options))

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """The async client: `Client`'s surface with `await` on every call (`AsyncJob` handles
    included) and `async for` over `jobs.list(...)` and `webhooks.deliveries(...)`."""

    _flavour = (AsyncTransport, AsyncJob, AsyncJobs, AsyncWebhooks)
    jobs: AsyncJobs
    webhooks: AsyncWebhooks

    def job(self, job_id: str) -> AsyncJob:
        return AsyncJob(self, job_id)

    def run(
        self, action: str | None = None, inputs: dict[str, Any] | None = None, **options: Unpack[RunOptions]
    ) -> Awaitable[AsyncJob]:
        return self._run(*self._run_plan(action, inputs, **options))

    run.__doc__ = _RUN_DOC

    async def _run(self, first: Call[None] | None, call: Callable[[], Call[Any]]) -> AsyncJob:
        if first is not None:
            await self._t.send(first)
        return await self._t.send(call())

    def run_many(
        self, actions: list[dict[str, Any]], **options: Unpack[RunManyOptions]
    ) -> Awaitable[AsyncJob]:
        return self._t.send(self._run_many_call(actions, **options))

    async def aclose(self) -> None:
        await self._t.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
