"""The client's job calls against the local stack: run, wait with progress, result, list, cancel,
errors; blocking and async."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC

import pytest

from asyncjobs_client import (
    AsyncClient,
    Client,
    ConfigurationError,
    Forbidden,
    JobCancelled,
    JobFailed,
    JobState,
    NotFound,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
)
from tests.client.proxy import Proxy, Step
from tests.integration.test_run_and_status import PROPOSAL


def _progress_ok(seen: list[JobState]) -> None:
    values = [s.progress for s in seen]
    assert values == sorted(values) and values[-1] == 100, values
    assert seen[-1].status == "succeeded"


def test_run_waits_with_progress_then_gives_the_result(client):
    # Given a job of 2 s reporting progress 4 times
    job = client.run("diagnostic", {"duration_seconds": 2, "steps": 4, "echo": {"n": 1}})
    assert job.state.status == "queued" and job.status_url.endswith(f"job_id={job.job_id}")
    seen: list[JobState] = []

    # When the caller waits for its result, following its progress
    result = job.result(timeout=30, on_progress=seen.append)

    # Then progress only grew, up to 100, and the result is the action's
    _progress_ok(seen)
    assert len({s.progress for s in seen}) >= 3, [s.progress for s in seen]  # seen as it moved
    assert result["echo"] == {"n": 1}
    state = job.state
    assert state.finished_at.tzinfo is UTC and state.finished_at >= state.started_at >= state.created_at


def test_async_client_has_the_same_surface(api, tenant):
    async def scenario() -> tuple[list[JobState], object, list[str]]:
        async with AsyncClient(api.base_url, tenant[1], tenant[0]) as c:
            job = await c.run("diagnostic", {"duration_seconds": 1.5, "steps": 3})
            seen: list[JobState] = []
            result = await job.result(timeout=30, on_progress=seen.append)
            assert (await c.jobs.get(job.job_id)).status == "succeeded"
            listed = [j.job_id async for j in c.jobs.list(limit=1)]
            with pytest.raises(NotFound):
                await c.jobs.get("01a203b7-0e11-74d0-ad5d-dde9fe7bd4df")
            return seen, result, [job.job_id, *listed]

    seen, result, ids = asyncio.run(scenario())
    _progress_ok(seen)
    assert result["steps"] == 3
    assert ids[0] == ids[1] and len(ids) == 2


def test_sync_mode_and_path_params_from_the_openapi_document(client):
    # A path parameter's route is read from /openapi.json; wait=N answers with the finished job
    job = client.run("proposal_pdf", PROPOSAL, path_params={"design_id": "d-7"}, wait=20)
    assert job.state.done and job.state.path_params == {"design_id": "d-7"}
    assert "/designs/d-7/proposal_pdf/status" in job.status_url
    [pdf] = job.files
    assert pdf.name == "proposal.pdf" and pdf.download_url.startswith("http")
    explicit = client.run(path="designs/d-8/proposal_pdf", inputs=PROPOSAL)
    assert explicit.wait(timeout=30).path_params == {"design_id": "d-8"}


def test_an_api_without_the_openapi_document_asks_for_path(api, tenant):
    # Given an API that answers GET /openapi.json with API Gateway's 404 (a stack deployed before
    # that route existed), when a run needs the document to find its route, then the error says
    # what to do, and a run with `path` works
    not_found = Step("answer", 404, retry_after=None, body=b'{"message": "Not Found"}')
    with (
        Proxy(api.base_url, [not_found], methods=frozenset({"GET"})) as proxy,
        Client(proxy.url, tenant[1], tenant[0]) as c,
    ):
        with pytest.raises(ConfigurationError, match=r"no /openapi\.json .*redeploy.*pass path="):
            c.run("proposal_pdf", PROPOSAL, path_params={"design_id": "d-9"})
        assert [s.path for s in proxy.requests("GET")] == ["/openapi.json"]
        job = c.run(path="designs/d-9/proposal_pdf", inputs=PROPOSAL)
        assert job.job_id


def test_run_many_is_one_job_of_several_actions(client):
    job = client.run_many(
        [
            {"name": "diagnostic", "params": {"echo": {"i": 0}}},
            {"name": "highlight", "params": {"text": "a fast job", "highlight_expression": "fast"}},
        ]
    )
    state = job.wait(timeout=30)
    assert state.action == "multi_action" and state.status == "succeeded"
    assert [a.action for a in state.actions] == ["diagnostic", "highlight"]
    assert state.actions[1].result == {"text": 'a <span class="highlight">fast</span> job'}


def test_failed_job_raises_job_failed_with_its_error(client):
    job = client.run("diagnostic", {"fail_with": "action_error"})
    with pytest.raises(JobFailed) as failed:
        job.result(timeout=30)
    assert failed.value.code == "diagnostic_failure" and failed.value.job.status == "failed"


def test_wait_times_out_with_a_timeout_error(client):
    job = client.run("diagnostic", {"duration_seconds": 5, "steps": 1})
    with pytest.raises(TimeoutError) as late:  # WaitTimeout is a TimeoutError
        job.wait(timeout=1)
    assert isinstance(late.value, WaitTimeout) and late.value.job.status in ("queued", "in_progress")
    client.jobs.cancel(job.job_id)


def test_cancel_a_running_job(client):
    job = client.run("diagnostic", {"duration_seconds": 20, "steps": 40})
    deadline = time.monotonic() + 10
    while job.refresh().status == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    state = client.jobs.cancel(job.job_id)
    assert state.status == "cancelled" or state.cancel_requested
    with pytest.raises(JobCancelled):
        job.result(timeout=15)


def test_list_goes_through_every_page(api, client, tenant):
    # Given five jobs of a new tenant
    ids = {client.run("diagnostic", {}).job_id for _ in range(5)}
    # When they are listed two per page, through a proxy that counts the requests
    with Proxy(api.base_url) as proxy, Client(proxy.url, tenant[1], tenant[0]) as via_proxy:
        listed = list(via_proxy.jobs.list(action="diagnostic", limit=2))
    # Then every job is there once, newest first, from three pages
    assert [j.job_id for j in listed] == sorted(ids, reverse=True)
    pages = proxy.requests("GET", "/jobs")
    assert len(pages) == 3 and "cursor=" not in pages[0].path and "cursor=" in pages[2].path
    first_three = itertools.islice(client.jobs.list(limit=2), 3)  # lazily: stops early
    assert [j.job_id for j in first_three] == [j.job_id for j in listed[:3]]
    assert all(j.result is None for j in listed)  # a listing row carries no result


def test_errors_map_to_classes_with_the_api_code(api, client, tenant):
    with pytest.raises(NotFound) as missing:
        client.jobs.get("01a203b7-0e11-74d0-ad5d-dde9fe7bd4df")
    assert missing.value.status == 404 and missing.value.code == "not_found" and missing.value.message
    with pytest.raises(ValidationFailed) as invalid:
        client.run("diagnostic", {"duration_seconds": -1})
    assert invalid.value.code == "validation_failed"
    assert invalid.value.details[0]["field"] == "duration_seconds"
    with (
        Client(api.base_url, "ajk_nope_nope", tenant[0], max_retries=0) as bad,
        pytest.raises(Unauthorized) as unauthorized,
    ):
        bad.jobs.get("01a203b7-0e11-74d0-ad5d-dde9fe7bd4df")
    assert unauthorized.value.code == "unauthorized"
    with Client(api.base_url, tenant[1], "someone-else") as other, pytest.raises(Forbidden):
        other.jobs.get("01a203b7-0e11-74d0-ad5d-dde9fe7bd4df")


def test_async_wait_awaits_a_coroutine_progress_callback(api, tenant):
    """In async code the natural `on_progress` is `async def`: the async client calls it and
    drops the coroutine (RuntimeWarning "never awaited"), so no progress is ever reported."""

    async def scenario() -> list[int]:
        seen: list[int] = []

        async def on_progress(state: JobState) -> None:
            seen.append(state.progress)

        async with AsyncClient(api.base_url, tenant[1], tenant[0]) as c:
            job = await c.run("diagnostic", {"duration_seconds": 1, "steps": 2})
            await job.wait(timeout=30, on_progress=on_progress)
        return seen

    seen = asyncio.run(scenario())
    assert seen and seen[-1] == 100, seen
