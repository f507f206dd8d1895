"""`Client` and `AsyncClient`: one set of resource classes, two transports.

Every method builds a `Call` (request, retry rule, parser) and hands it to the client's
transport: the blocking one returns the parsed value, the async one a coroutine of it. So
`AsyncClient` has exactly `Client`'s surface, with `await` on each call and `async for` on the
listings, and no line of request logic is written twice. (Type hints show the blocking flavour.)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
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

__all__ = ["AsyncClient", "Client", "Job"]

ALL_EVENTS = ("job.succeeded", "job.failed", "job.cancelled")


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class Job:
    """A handle on one job: its id, its status URL and the last status read (`state`)."""

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
        return f"Job({self.job_id!r}, status={status!r})"

    def _status_call(self, wait: int = 0) -> Call[JobState]:
        headers = {"Prefer": f"wait={wait}"} if wait > 0 else {}
        return Call("GET", self.status_url, self._absorb, headers=headers, wait_s=wait)

    def _absorb(self, resp: httpx.Response) -> JobState:
        self.state = JobState.parse(json_of(resp))
        return self.state

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
        (then each request waits `poll_interval` seconds at most, so progress is seen as it
        moves). Raises `WaitTimeout` (a `TimeoutError`) after `timeout` seconds; the job goes on.
        """
        return self._client._t.drive(Waiter(self, timeout, poll_interval, on_progress))

    def result(
        self, timeout: float | None = None, on_progress: Callable[[JobState], object] | None = None
    ) -> Any:
        """The job's result, once it has succeeded (waiting if need be). Raises `JobFailed`
        (with the job's `error.code` and `message`) or `JobCancelled`. A result too large to
        inline is a file: it is then None and `state.files` has its download URL."""
        return self._client._t.then(self.wait(timeout, on_progress), _outcome)

    def cancel(self) -> JobState:
        return self._client._t.send(self._client.jobs._cancel_call(self.job_id, self._absorb))

    @property
    def files(self) -> list[Any]:
        return self.state.files if self.state else []


def _outcome(state: JobState) -> Any:
    if state.status == "failed":
        raise JobFailed(state)
    if state.status == "cancelled":
        raise JobCancelled(state)
    return state.result


class Jobs:
    def __init__(self, client: _ClientBase) -> None:
        self._c = client

    def get(self, job_id: str) -> JobState:
        """Any job of the tenant (a multi-action job with its `actions`)."""
        return self._c._t.send(Call("GET", self._c.path("jobs", job_id), parser(JobState.parse)))

    def list(
        self, action: str | None = None, status: str | None = None, limit: int | None = None
    ) -> Iterator[JobState]:
        """Every job of the tenant, newest first, fetched lazily page after page (`limit` per
        page, the API's default 25, at most 100). Stop early with `itertools.islice`."""
        params = {
            k: v for k, v in {"action": action, "status": status, "limit": limit}.items() if v is not None
        }

        def page(cursor: str | None) -> Call[Any]:
            query = params | ({"cursor": cursor} if cursor else {})
            return Call("GET", self._c.path("jobs"), parser(_page("jobs", JobState.parse)), params=query)

        return self._c._t.pages(page)

    def cancel(self, job_id: str) -> JobState:
        """Cancels a job: a queued one never runs; a running one stops at its next progress
        report (its state then says `cancel_requested`). Raises `Conflict` if it has ended."""
        return self._c._t.send(self._cancel_call(job_id, parser(JobState.parse)))

    def _cancel_call(self, job_id: str, parse: Callable[[httpx.Response], JobState]) -> Call[JobState]:
        # A retried cancel is answered as the first would have been (the API's promise).
        return Call("POST", self._c.path("jobs", job_id, "cancel"), parse)

    def job(self, job_id: str) -> Job:
        """A handle on an existing job (no request is made)."""
        return Job(self._c, job_id)


def _page(key: str, build: Callable[[dict[str, Any]], Any]) -> Callable[[Any], tuple[list[Any], str | None]]:
    return lambda doc: ([build(item) for item in doc.get(key) or []], doc.get("next_cursor"))


class Webhooks:
    """The Webhooks API. Create, rotate-secret and ping are not idempotent: they are retried only
    when the request certainly did not arrive (see `Retry.SAFE_ONLY`)."""

    def __init__(self, client: _ClientBase) -> None:
        self._c = client

    def _path(self, *segments: str) -> str:
        return self._c.path("webhooks", *segments)

    def _send(self, call: Call[Any]) -> Any:
        return self._c._t.send(call)

    def create(
        self,
        url: str,
        events: Iterable[str] = ALL_EVENTS,
        actions: Iterable[str] | None = None,
        auth: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> Subscription:
        """A subscription; its `secret` (shown this once) verifies the deliveries."""
        body = _fields(
            url=url,
            events=list(events),
            actions=actions and list(actions),
            auth=auth,
            description=description,
        )
        return self._send(
            Call("POST", self._path(), parser(Subscription.parse), json=body, retry=Retry.SAFE_ONLY)
        )

    def list(self) -> list[Subscription]:
        return self._send(Call("GET", self._path(), parser(_page("webhooks", Subscription.parse))))[0]

    def get(self, sub_id: str) -> Subscription:
        return self._send(Call("GET", self._path(sub_id), parser(Subscription.parse)))

    def update(self, sub_id: str, **changes: Any) -> Subscription:
        """Changes any of url, events, actions, auth, description, enabled."""
        return self._send(Call("PATCH", self._path(sub_id), parser(Subscription.parse), json=changes))

    def delete(self, sub_id: str) -> None:
        return self._send(Call("DELETE", self._path(sub_id), json_of))

    def rotate_secret(self, sub_id: str, overlap_seconds: int | None = None) -> Subscription:
        """A new secret (in the answer's `secret`); the previous ones keep signing for the
        overlap (the API's default: 24 h)."""
        body = _fields(overlap_seconds=overlap_seconds)
        call = Call("POST", self._path(sub_id, "rotate-secret"), parser(Subscription.parse), json=body)
        return self._send(_safe_only(call))

    def ping(self, sub_id: str) -> Delivery:
        call = Call("POST", self._path(sub_id, "ping"), parser(Delivery.parse))
        return self._send(_safe_only(call))

    def recover(self, sub_id: str, since: datetime | str, cursor: str | None = None) -> RecoverResult:
        """Requeues failed or exhausted deliveries since then, 100 per call: call again with
        `next_cursor` until it is None."""
        body = _fields(since=since.isoformat() if isinstance(since, datetime) else since, cursor=cursor)
        build = parser(lambda doc: RecoverResult(int(doc["requeued"]), doc.get("next_cursor")))
        return self._send(Call("POST", self._path(sub_id, "recover"), build, json=body))

    def deliveries(
        self, sub_id: str, status: str | None = None, limit: int | None = None
    ) -> Iterator[Delivery]:
        """The delivery log, newest first, every page lazily (a page may be short, even empty,
        and still have a next one: the iterator goes on)."""
        params = _fields(status=status, limit=limit)

        def page(cursor: str | None) -> Call[Any]:
            query = params | ({"cursor": cursor} if cursor else {})
            build = parser(_page("deliveries", Delivery.parse))
            return Call("GET", self._path(sub_id, "deliveries"), build, params=query)

        return self._c._t.pages(page)

    def delivery(self, sub_id: str, delivery_id: str) -> Delivery:
        """One delivery with every attempt and the exact payload."""
        return self._send(Call("GET", self._path(sub_id, "deliveries", delivery_id), parser(Delivery.parse)))

    def redeliver(self, sub_id: str, delivery_id: str) -> Delivery:
        path = self._path(sub_id, "deliveries", delivery_id, "redeliver")
        return self._send(Call("POST", path, parser(Delivery.parse)))


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _safe_only(call: Call[Any]) -> Call[Any]:
    return Call(call.method, call.path, call.parse, json=call.json, retry=Retry.SAFE_ONLY)


class _ClientBase:
    _transport: type[SyncTransport] | type[AsyncTransport]

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
        self._t: Any = self._transport(
            self.base_url, str(api_key), timeout, RetryPolicy(max_retries), http=http
        )
        self._run_paths: dict[str, str] | None = None
        self.jobs = Jobs(self)
        self.webhooks = Webhooks(self)

    def path(self, *segments: str) -> str:
        """`/v2/tenants/{tenant_id}/<segments>`, each segment percent-encoded."""
        return "/".join(["/v2/tenants", _seg(self.tenant_id), *(_seg(s) for s in segments)])

    def job(self, job_id: str) -> Job:
        """A handle on an existing job (no request is made)."""
        return Job(self, job_id)

    def run(
        self,
        action: str | None = None,
        inputs: dict[str, Any] | None = None,
        *,
        path_params: dict[str, str] | None = None,
        path: str | None = None,
        idempotency_key: str | None = None,
        wait: int | None = None,
    ) -> Job:
        """Starts an action and returns its `Job`.

        The URL: `path` if given (the action's resource path below the tenant, without `/run`,
        e.g. `designs/d-1/proposal_pdf`); else `<action>` when there are no `path_params`; else
        the action's route template read once from the API's `/openapi.json` (public: the local
        stack and deployed stacks serve it; one deployed before that route did not: pass `path`).

        Every run carries an `Idempotency-Key` (`idempotency_key`, or a fresh uuid4) that is the
        same on every retry of this call, so a retry after a lost answer replays the first job
        instead of starting a second. `wait=N` asks the API to hold the answer up to N s (at most
        25) for the job to end: the returned job's `state` is then final if it did."""
        if path is None and action is None:
            raise ConfigurationError("run needs an action name or a path")
        body = inputs or {}
        key = idempotency_key or str(uuid.uuid4())

        def call(_: object = None) -> Call[Job]:
            target = path.strip("/") if path is not None else self._run_path(str(action), path_params or {})
            url = "/".join([self.path(), *target.split("/"), "run"])
            return self._run_call(url, body, key, wait)

        if path is None and path_params and self._run_paths is None:
            return self._t.then(self._t.send(self._openapi_call()), lambda _: self._t.send(call()))
        return self._t.send(call())

    def run_many(
        self, actions: list[dict[str, Any]], *, idempotency_key: str | None = None, wait: int | None = None
    ) -> Job:
        """One job of 1 to 10 actions run in parallel: each `{"name", "params", "path_params"}`.
        Retries as `run` does (one Idempotency-Key for every attempt)."""
        key = idempotency_key or str(uuid.uuid4())
        return self._t.send(self._run_call(self.path("jobs"), {"actions": actions}, key, wait))

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
            return Job(self, doc["job_id"], status_url, JobState.parse(doc), replayed)

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


class Client(_ClientBase):
    """The blocking client. Use it as a context manager, or call `close()`."""

    _transport = SyncTransport

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """The async client: `Client`'s surface with `await` on every call (job handles included)
    and `async for` over `jobs.list(...)` and `webhooks.deliveries(...)`."""

    _transport = AsyncTransport

    async def aclose(self) -> None:
        await self._t.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
