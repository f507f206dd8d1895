"""Jobs keyed by tenant shard (jobs/store.py) on the template's table: a tenant's jobs spread over
its shards, listed newest first through the API as one sequence, and a status still one read."""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from asyncjobs.aws import clients as aws
from asyncjobs.jobs.ids import new_job_id
from asyncjobs.jobs.models import Job, JobStatus
from asyncjobs.jobs.store import SHARDS


def _store_jobs(harness, count: int, seed: int = 0) -> list[Job]:
    """`count` jobs of acme stored as the run function stores them, oldest first, 1 ms apart:
    mixed actions and outcomes, one in eight expired (its item still there, as TTL leaves it)."""
    rng = random.Random(seed)
    svc = harness.services()
    now = time.time()
    start_ms = int(now * 1000) - count
    jobs = []
    for i in range(count):
        job = Job(
            "acme",
            new_job_id(start_ms + i),
            rng.choice(["diagnostic", "proposal_pdf"]),
            rng.choice([JobStatus.QUEUED, JobStatus.SUCCEEDED, JobStatus.FAILED]),
            now,
            int(now) - 1 if i % 8 == 3 else int(now) + 86400,
        )
        svc.store.create(job)
        jobs.append(job)
    return jobs


def _list_all(harness, limit: int, **query: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(500):
        q = (
            {k: str(v) for k, v in query.items()}
            | {"limit": str(limit)}
            | ({"cursor": cursor} if cursor else {})
        )
        reply = harness.request("GET", "/v2/tenants/acme/jobs", query=q)
        assert reply.status == 200, reply.body
        assert len(reply.body["jobs"]) <= limit
        seen += [j["job_id"] for j in reply.body["jobs"]]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the listing never ended")


def _listed(
    jobs: list[Job], now: float, action: str | None = None, status: JobStatus | None = None
) -> list[str]:
    return [
        j.job_id
        for j in reversed(jobs)
        if not j.expired(now)
        and (action is None or j.action == action)
        and (status is None or j.status is status)
    ]


def test_a_tenants_jobs_spread_over_its_shards_and_list_as_one_sequence(harness):
    jobs = _store_jobs(harness, 96)
    harness.submit(tenant="globex")  # never listed for acme

    items = harness.ddb.scan(TableName=harness.env["JOBS_TABLE"])["Items"]
    per_pk = Counter(i["pk"]["S"] for i in items if i["tenant_id"]["S"] == "acme")
    assert set(per_pk) <= {f"acme#{s:02d}" for s in range(SHARDS)}
    assert len(per_pk) >= SHARDS - 2  # 96 jobs leave a shard empty with odds of about 1 in 500

    expected = _listed(jobs, time.time())
    for limit in (1, 7, 20, 100):
        assert _list_all(harness, limit) == expected, limit


def test_listing_by_action_and_status_reads_the_pages_items_and_hides_expired_jobs(harness):
    jobs = _store_jobs(harness, 64, seed=1)
    now = time.time()
    for action, status in [
        ("diagnostic", None),
        ("proposal_pdf", JobStatus.FAILED),
        (None, JobStatus.QUEUED),
    ]:
        expected = _listed(jobs, now, action, status)
        assert expected, (action, status)
        query = {k: v for k, v in (("action", action), ("status", status)) if v is not None}
        for limit in (2, 25):
            assert _list_all(harness, limit, **query) == expected, (action, status, limit)
    # the summary comes from the job's item (the index holds its keys only)
    (first,) = harness.request(
        "GET", "/v2/tenants/acme/jobs", query={"action": "diagnostic", "limit": "1"}
    ).body["jobs"]
    stored = next(j for j in jobs if j.job_id == first["job_id"])
    assert first["status"] == stored.status.value and first["action"] == "diagnostic"


def test_a_jobs_status_is_one_request_to_the_jobs_table(harness):
    job_id = harness.submit()
    harness.execute()
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("TableName", "")))

    client = aws.client("dynamodb")
    client.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        # the status route: one GetItem; the job's own route: one Query, the job with its actions
        # (a multi-action job's actions share its shard)
        for read, op in (
            (lambda: harness.status("acme", "/diagnostic", job_id), "GetItem"),
            (lambda: harness.request("GET", f"/v2/tenants/acme/jobs/{job_id}"), "Query"),
        ):
            calls.clear()
            reply = read()
            assert reply.status == 200 and reply.body["status"] == "succeeded", reply.body
            assert [c for c in calls if c[1] == harness.env["JOBS_TABLE"]] == [
                (op, harness.env["JOBS_TABLE"])
            ]
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)
