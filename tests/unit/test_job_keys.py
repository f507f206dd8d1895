"""The jobs table's sharded keys: the shard function, and listings merged from the shards.

The listings run JobStore.list against `ShardedTable`, an in-memory stand-in for the two Query
shapes and the BatchGetItem the store makes, which pages as DynamoDB does: Limit counts the items
read before the filter, and a page that read its Limit has a LastEvaluatedKey even when nothing
follows (moto leaves it out then, so this path is only exercised here).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from typing import Any

import pytest

from asyncjobs.aws.dynamo import to_item
from asyncjobs.jobs import ids as ids_module
from asyncjobs.jobs import store as store_module
from asyncjobs.jobs.ids import action_job_id, new_job_id
from asyncjobs.jobs.models import Job, JobStatus
from asyncjobs.jobs.store import SHARDS, JobStore, decode_cursor, encode_cursor, shard_of

NOW = 1_800_000_000


# -- the shard function ------------------------------------------------------------------------
def test_shard_of_is_stable():
    # Items are stored under these shards: a changed function would lose every stored job.
    assert shard_of("0190aaaa-0000-7000-8000-000000000000") == 9
    assert shard_of("01a217d3-95a1-75b4-a351-17dc685fc719") == 12


def test_an_action_shares_its_jobs_shard():
    for _ in range(200):
        job_id = new_job_id()
        assert {shard_of(action_job_id(job_id, i)) for i in range(12)} == {shard_of(job_id)}


@pytest.mark.parametrize("same_millisecond", [False, True])
def test_job_ids_spread_evenly_over_the_shards(same_millisecond):
    # 160,000 ids: 10,000 a shard expected, one standard deviation about 1%; 5% is 5 of them
    ms = 1_800_000_000_000
    counts = Counter(shard_of(new_job_id(ms if same_millisecond else ms + i // 50)) for i in range(160_000))
    assert set(counts) == set(range(SHARDS))
    mean = 160_000 / SHARDS
    assert all(abs(n - mean) / mean < 0.05 for n in counts.values()), counts


# -- listings merged from the shards -----------------------------------------------------------
class ShardedTable:
    """The jobs table and its ByAction index (keys only) in memory, for JobStore's reads."""

    def __init__(self, items: list[dict[str, Any]], batch_size: int = 7) -> None:
        self.items = {(i["pk"]["S"], i["job_id"]["S"]): i for i in items}
        self.batch_size = batch_size  # keys a BatchGetItem reads; the rest come back unprocessed
        self.calls: Counter[str] = Counter()
        self.read = 0  # items the Queries read (before their filter)

    def query(self, **kw: Any) -> dict[str, Any]:
        self.calls["Query"] += 1
        names, values = kw["ExpressionAttributeNames"], kw["ExpressionAttributeValues"]
        key_attr = names["#p"]
        assert kw["ScanIndexForward"] is False
        assert kw["KeyConditionExpression"] in ("#p = :p", "#p = :p AND job_id < :before")
        before = values.get(":before", {}).get("S")
        rows = sorted(
            (
                i
                for i in self.items.values()
                if i.get(key_attr) == values[":p"] and (before is None or i["job_id"]["S"] < before)
            ),
            key=lambda i: i["job_id"]["S"],
            reverse=True,
        )
        if "ExclusiveStartKey" in kw:
            start = kw["ExclusiveStartKey"]
            assert start[key_attr] == values[":p"]
            rows = [i for i in rows if i["job_id"]["S"] < start["job_id"]["S"]]
        page = rows[: kw["Limit"]]
        self.read += len(page)
        if "IndexName" in kw:
            assert kw["IndexName"] == "ByAction" and "FilterExpression" not in kw
            out = [{k: i[k] for k in ("pk", "job_id", "tenant_action")} for i in page]  # KEYS_ONLY
        else:
            out = [i for i in page if self._passes(kw["FilterExpression"], names, values, i)]
        resp: dict[str, Any] = {"Items": out}
        if len(page) == kw["Limit"]:  # as DynamoDB: whether or not anything follows
            last = page[-1]
            resp["LastEvaluatedKey"] = {k: last[k] for k in ("pk", "job_id", key_attr)}
        return resp

    @staticmethod
    def _passes(expression: str, names: dict[str, str], values: dict[str, Any], item: dict[str, Any]) -> bool:
        for term in expression.split(" AND "):
            if term == "#e > :now":
                ok = int(item[names["#e"]]["N"]) > int(values[":now"]["N"])
            elif term == "attribute_not_exists(parent_id)":
                ok = "parent_id" not in item
            elif term == "#s = :s":
                ok = item[names["#s"]] == values[":s"]
            else:
                raise AssertionError(f"filter term not modelled: {term}")
            if not ok:
                return False
        return True

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls["BatchGetItem"] += 1
        ((table, spec),) = RequestItems.items()
        assert spec["ConsistentRead"] is True and len(spec["Keys"]) <= 100
        now, later = spec["Keys"][: self.batch_size], spec["Keys"][self.batch_size :]
        found = [
            self.items[(k["pk"]["S"], k["job_id"]["S"])]
            for k in now
            if (k["pk"]["S"], k["job_id"]["S"]) in self.items
        ]
        resp: dict[str, Any] = {"Responses": {table: found}}
        if later:
            resp["UnprocessedKeys"] = {table: {"Keys": later}}
        return resp


def _ids(count: int, seed: int) -> list[str]:
    """`count` job ids 1 ms apart, oldest first, their random bits from `seed` (the shards they
    fall in, and so each test's reads, are the same on every run)."""
    rng = random.Random(seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ids_module.os, "urandom", rng.randbytes)
        return [new_job_id(1_800_000_000_000 + i) for i in range(count)]


def _job(
    job_id: str, action: str, status: JobStatus, *, expired: bool = False, parent: str | None = None
) -> Job:
    return Job(
        "acme",
        job_id,
        action,
        status,
        float(NOW - 100),
        NOW - 1 if expired else NOW + 86400,
        parent_id=parent,
    )


def _tenant_jobs(count: int, seed: int) -> tuple[list[Job], list[Job]]:
    """`count` jobs of one tenant, oldest first (ids 1 ms apart, random shards), with some
    expired, some multi-action with their actions; and the other items of the table."""
    rng = random.Random(seed)
    jobs: list[Job] = []
    others: list[Job] = []
    for job_id in _ids(count + 1, seed)[:count]:
        action = rng.choice(["diagnostic", "highlight", "multi"])
        status = rng.choice(list(JobStatus))
        job = _job(job_id, action, status, expired=rng.random() < 0.1)
        jobs.append(job)
        if action == "multi":
            others += [_job(action_job_id(job_id, n), "diagnostic", status, parent=job_id) for n in range(3)]
    others.append(Job("globex", _ids(count + 1, seed)[count], "diagnostic", JobStatus.QUEUED, NOW, NOW + 9))
    return jobs, others


def _table(jobs: list[Job], **kw: Any) -> ShardedTable:
    return ShardedTable([to_item(JobStore._new_item(j)) for j in jobs], **kw)


def _pages(store: JobStore, limit: int, **filters: Any) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(10_000):
        page = store.list("acme", now=NOW, limit=limit, cursor=cursor, **filters)
        assert len(page.jobs) <= limit
        pages.append([j.job_id for j in page.jobs])
        if page.cursor is None:
            return pages
        cursor = page.cursor
    raise AssertionError("the listing never ended")


FILTERS = [
    {},
    {"status": JobStatus.SUCCEEDED},
    {"action": "diagnostic"},
    {"action": "multi", "status": JobStatus.FAILED},
]


@pytest.mark.parametrize("limit", [1, 2, 7, 100])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "-".join(str(v) for v in f.values()) or "all")
def test_pages_list_every_job_once_newest_first(limit, filters):
    jobs, others = _tenant_jobs(300, seed=limit)
    store = JobStore(_table(jobs + others), "jobs")
    status, action = filters.get("status"), filters.get("action")
    expected = [
        j.job_id
        for j in reversed(jobs)
        if not j.expired(NOW)
        and (status is None or j.status is status)
        and (action is None or j.action == action)
    ]
    assert expected, "the filter matches some jobs"

    pages = _pages(store, limit, **filters)

    assert list(itertools.chain(*pages)) == expected
    # full pages, but for the last (and, where a shard's read ended on the page, an empty one after)
    assert all(len(p) == limit for p in pages[:-1])
    assert len(pages) <= len(expected) // limit + 2


def test_a_cursor_continues_exactly_where_its_page_ended():
    jobs, others = _tenant_jobs(120, seed=7)
    store = JobStore(_table(jobs + others), "jobs")
    first = store.list("acme", now=NOW, limit=10)
    again = store.list("acme", now=NOW, limit=10, cursor=first.cursor)
    both = store.list("acme", now=NOW, limit=20)
    assert [j.job_id for j in first.jobs + again.jobs] == [j.job_id for j in both.jobs]
    assert decode_cursor(str(first.cursor)) == first.jobs[-1].job_id


def test_a_page_reads_each_shard_once_and_only_its_share():
    jobs = [_job(j, "diagnostic", JobStatus.SUCCEEDED) for j in _ids(2_000, seed=1)]
    table = _table(jobs)
    page = JobStore(table, "jobs").list("acme", now=NOW, limit=20)
    assert [j.job_id for j in page.jobs] == [j.job_id for j in reversed(jobs[-20:])]
    # one round: a Query a shard, each reading 2 * ceil(20 / 16) + 2 = 6 items, not 20
    assert table.calls == {"Query": SHARDS} and table.read == SHARDS * 6


def test_a_page_by_action_reads_its_items_in_batches():
    jobs = [_job(j, "highlight", JobStatus.QUEUED) for j in _ids(200, seed=2)]
    table = _table(jobs, batch_size=7)
    page = JobStore(table, "jobs").list("acme", now=NOW, action="highlight", limit=20)
    assert [j.job_id for j in page.jobs] == [j.job_id for j in reversed(jobs[-20:])]
    assert page.jobs[0].status is JobStatus.QUEUED  # the item, not the index's keys
    # 20 keys, 7 a call: the unprocessed keys are read again
    assert table.calls == {"Query": SHARDS, "BatchGetItem": 3}


def test_a_sparse_filter_ends_pages_early_and_still_lists_everything(monkeypatch):
    monkeypatch.setattr(store_module, "_MAX_QUERIES", 2 * SHARDS)
    jobs = [_job(j, "diagnostic", JobStatus.SUCCEEDED) for j in _ids(3_000, seed=3)]
    # the only failed jobs: the oldest, and actions of a multi-action job whose items a shard's
    # read may stop among (the cursor is then an action's id)
    wanted = [jobs[0], jobs[1]]
    jobs[0] = wanted[0] = _job(jobs[0].job_id, "diagnostic", JobStatus.FAILED)
    jobs[1] = wanted[1] = _job(jobs[1].job_id, "multi", JobStatus.FAILED)
    actions = [
        _job(action_job_id(jobs[1].job_id, n), "diagnostic", JobStatus.FAILED, parent=jobs[1].job_id)
        for n in range(40)
    ]
    store = JobStore(_table(jobs + actions), "jobs")

    pages = _pages(store, 5, status=JobStatus.FAILED)

    assert list(itertools.chain(*pages)) == [wanted[1].job_id, wanted[0].job_id]
    assert len(pages) > 2  # the rounds ran out before the matches were reached


def test_an_actions_id_is_a_valid_cursor_a_made_up_one_is_not():
    job_id = new_job_id()
    assert decode_cursor(encode_cursor(action_job_id(job_id, 3))) == action_job_id(job_id, 3)
    for bad in (f"{job_id}.", f"{job_id}.x1", f"{job_id}.1234", f"{job_id}.01.02", "nope.01"):
        with pytest.raises(Exception, match="cursor is not valid"):
            decode_cursor(encode_cursor(bad))
