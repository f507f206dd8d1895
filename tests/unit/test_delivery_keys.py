"""The delivery log's sharded keys: the shard function, and a subscription's deliveries listed
newest first, merged from the shards.

The listings run WebhookStore.deliveries against `LogTable`, an in-memory stand-in for the shard
Query the store makes, which pages as DynamoDB does: Limit counts the items read before the filter,
and a page that read its Limit has a LastEvaluatedKey even when nothing follows.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from asyncjobs.aws.dynamo import from_attribute, to_item
from asyncjobs.jobs import ids as ids_module
from asyncjobs.jobs.ids import new_job_id
from asyncjobs.webhooks import store as store_module
from asyncjobs.webhooks.models import Delivery
from asyncjobs.webhooks.store import SHARDS, WebhookStore, delivery_item, delivery_key, shard_of

NOW = 1_800_000_000
STATUSES = ("succeeded", "failed", "exhausted", "pending")


# -- the shard function ------------------------------------------------------------------------
def test_shard_of_is_stable():
    # Deliveries are stored under these shards: a changed function would lose every stored one.
    assert shard_of("0190aaaa-0000-7000-8000-000000000000.succeeded") == 8
    assert shard_of("01a217d3-95a1-75b4-a351-17dc685fc719.ping") == 10


@pytest.mark.parametrize("same_millisecond", [False, True])
def test_delivery_ids_spread_evenly_over_the_shards(same_millisecond):
    # 160,000 ids: 10,000 a shard expected, one standard deviation about 1%; 5% is 5 of them
    ms = 1_800_000_000_000
    counts = Counter(
        shard_of(f"{new_job_id(ms if same_millisecond else ms + i // 50)}.succeeded") for i in range(160_000)
    )
    assert set(counts) == set(range(SHARDS))
    mean = 160_000 / SHARDS
    assert all(abs(n - mean) / mean < 0.05 for n in counts.values()), counts


def test_a_deliverys_key_is_where_it_is_written():
    d = Delivery(
        "sub_1",
        "0190aaaa-0000-7000-8000-000000000000.succeeded",
        "acme",
        "job.succeeded",
        "{}",
        "pending",
        1.0,
    )
    item = to_item(delivery_item(d))
    assert delivery_key("sub_1", d.delivery_id) == {"pk": item["pk"], "sk": item["sk"]}
    assert item["pk"] == {"S": "SUB#sub_1#08"} and item["sk"] == {"S": f"DLV#{d.delivery_id}"}


# -- the log merged from the shards ------------------------------------------------------------
class LogTable:
    """WebhooksTable in memory, for the delivery log's shard Queries."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = {(i["pk"]["S"], i["sk"]["S"]): i for i in items}
        self.calls: Counter[str] = Counter()
        self.queries_per_page: list[int] = []
        self.read = 0  # items the Queries read (before their filter)

    def query(self, **kw: Any) -> dict[str, Any]:
        self.calls["Query"] += 1
        names, values = kw["ExpressionAttributeNames"], kw["ExpressionAttributeValues"]
        assert names["#p"] == "pk" and kw["ScanIndexForward"] is False
        assert kw["KeyConditionExpression"] in ("#p = :p", "#p = :p AND sk < :before")
        before = values.get(":before", {}).get("S")
        rows = sorted(
            (
                i
                for i in self.items.values()
                if i["pk"] == values[":p"] and (before is None or i["sk"]["S"] < before)
            ),
            key=lambda i: i["sk"]["S"],
            reverse=True,
        )
        if "ExclusiveStartKey" in kw:
            start = kw["ExclusiveStartKey"]
            assert start["pk"] == values[":p"]
            rows = [i for i in rows if i["sk"]["S"] < start["sk"]["S"]]
        page = rows[: kw["Limit"]]
        self.read += len(page)
        out = [i for i in page if self._passes(kw["FilterExpression"], names, values, i)]
        resp: dict[str, Any] = {"Items": out}
        if len(page) == kw["Limit"]:  # as DynamoDB: whether or not anything follows
            resp["LastEvaluatedKey"] = {k: page[-1][k] for k in ("pk", "sk")}
        return resp

    @staticmethod
    def _passes(expression: str, names: dict[str, str], values: dict[str, Any], item: dict[str, Any]) -> bool:
        def value(name: str) -> Any:
            return from_attribute(values[name])

        for term in expression.split(" AND "):
            if term == "#e > :now":
                ok = from_attribute(item[names["#e"]]) > value(":now")
            elif term.startswith("#s IN ("):
                wanted = {value(v) for v in term.removeprefix("#s IN (").removesuffix(")").split(", ")}
                ok = from_attribute(item[names["#s"]]) in wanted
            elif term == "created_at >= :since":
                ok = from_attribute(item["created_at"]) >= value(":since")
            else:
                raise AssertionError(f"filter term not modelled: {term}")
            if not ok:
                return False
        return True


def _log(count: int, seed: int) -> list[Delivery]:
    """`count` deliveries of sub_1, oldest first (their job ids 1 ms apart, random shards), with
    mixed statuses and creation times, one in ten expired (its item still there, as TTL leaves
    it); the same on every run for a seed."""
    rng = random.Random(seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ids_module.os, "urandom", rng.randbytes)
        ids = [new_job_id(1_800_000_000_000 + i) for i in range(count)]
    log = []
    for n, job_id in enumerate(ids):
        created = float(NOW - 3600 + n)
        expired = rng.random() < 0.1
        log.append(
            Delivery(
                "sub_1",
                f"{job_id}.{rng.choice(['succeeded', 'failed'])}",
                "acme",
                "job.succeeded",
                "{}",
                rng.choice(STATUSES),
                created,
                expires_at=NOW - 1 if expired else NOW + 86400,
            )
        )
    return log


def _store(log: list[Delivery]) -> tuple[WebhookStore, LogTable]:
    other = Delivery("sub_2", log[0].delivery_id, "acme", "ping", "{}", "pending", float(NOW))
    table = LogTable([to_item(delivery_item(d)) for d in [*log, other]])
    return WebhookStore(table, "webhooks"), table


def _pages(store: WebhookStore, table: LogTable, limit: int, **filters: Any) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(10_000):
        before = table.calls["Query"]
        items, cursor = store.deliveries("sub_1", now=NOW, limit=limit, cursor=cursor, **filters)
        table.queries_per_page.append(table.calls["Query"] - before)
        assert len(items) <= limit
        pages.append([d.delivery_id for d in items])
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


FILTERS = [
    {},
    {"statuses": ("exhausted",)},
    {"statuses": ("exhausted", "failed", "pending"), "since": float(NOW - 3600 + 150)},
    {"since": float(NOW - 3600 + 250)},
]


@pytest.mark.parametrize("limit", [1, 2, 7, 50])
@pytest.mark.parametrize("filters", FILTERS, ids=["all", "status", "recover", "since"])
def test_pages_list_every_delivery_once_newest_first(limit, filters):
    log = _log(300, seed=limit)
    store, table = _store(log)
    statuses, since = filters.get("statuses", ()), filters.get("since")
    expected = [
        d.delivery_id
        for d in reversed(log)
        if (d.expires_at or 0) > NOW
        and (not statuses or d.status in statuses)
        and (since is None or d.created_at >= since)
    ]
    assert expected, "the filter matches some deliveries"
    assert len(expected) < len(log), "some are hidden (expired, or filtered out)"

    pages = _pages(store, table, limit, **filters)

    assert list(itertools.chain(*pages)) == expected
    assert all(n <= store_module.MAX_QUERIES for n in table.queries_per_page)
    if not filters:  # every item passes but the expired: pages are full but for the last
        assert all(len(p) == limit for p in pages[:-1])
        assert len(pages) <= len(expected) // limit + 2


def test_a_cursor_continues_exactly_where_its_page_ended():
    store, _ = _store(_log(120, seed=7))
    first, cursor = store.deliveries("sub_1", now=NOW, limit=10)
    again, _ = store.deliveries("sub_1", now=NOW, limit=10, cursor=cursor)
    both, _ = store.deliveries("sub_1", now=NOW, limit=20)
    assert [d.delivery_id for d in first + again] == [d.delivery_id for d in both]
    assert cursor == first[-1].delivery_id


def test_a_page_reads_each_shard_once_and_only_its_share():
    log = [
        Delivery(
            "sub_1",
            f"{job_id}.succeeded",
            "acme",
            "job.succeeded",
            "{}",
            "succeeded",
            float(NOW),
            expires_at=NOW + 60,
        )
        for job_id in (new_job_id(1_800_000_000_000 + i) for i in range(2_000))
    ]
    store, table = _store(log)
    items, cursor = store.deliveries("sub_1", now=NOW, limit=20)
    assert [d.delivery_id for d in items] == [d.delivery_id for d in reversed(log[-20:])]
    assert cursor == items[-1].delivery_id
    # one round: a Query a shard, each reading 2 * ceil(20 / 16) + 2 = 6 items, not 20
    assert table.calls == {"Query": SHARDS} and table.read == SHARDS * 6


def test_a_sparse_filter_ends_pages_early_and_still_lists_everything(monkeypatch):
    monkeypatch.setattr(store_module, "MAX_QUERIES", 2 * SHARDS)
    log = [replace(d, status="succeeded") for d in _log(3_000, seed=3)]
    log[0] = replace(log[0], status="exhausted", expires_at=NOW + 60)  # the only match: the oldest
    store, table = _store(log)

    pages = _pages(store, table, 5, statuses=("exhausted",))

    assert list(itertools.chain(*pages)) == [log[0].delivery_id]
    assert len(pages) > 2  # the rounds ran out before the oldest was reached
    assert max(table.queries_per_page) <= 2 * SHARDS


def test_a_page_reads_again_only_the_shards_that_may_hold_its_next_items():
    # The newest 40 deliveries all in shard 0 and matching; then one match in another shard, newer
    # than the rest (non-matching): once that one is read, no other shard's unread part can hold
    # anything newer, so only shard 0 is read again.
    def delivery(ms: int, status: str, shard: int | None = None) -> Delivery:
        while True:
            delivery_id = f"{new_job_id(ms)}.succeeded"
            if shard is None or (shard_of(delivery_id) == 0) == (shard == 0):
                return Delivery(
                    "sub_1",
                    delivery_id,
                    "acme",
                    "job.succeeded",
                    "{}",
                    status,
                    float(NOW),
                    expires_at=NOW + 60,
                )

    older = [delivery(1_800_000_000_000 + i, "failed") for i in range(2_000)]
    match = delivery(1_800_000_005_000, "succeeded", shard=1)
    newest = [delivery(1_800_000_010_000 + i, "succeeded", shard=0) for i in range(40)]
    store, table = _store([*older, match, *newest])

    items, _ = store.deliveries("sub_1", now=NOW, limit=20, statuses=("succeeded",))

    assert [d.delivery_id for d in items] == [d.delivery_id for d in reversed(newest[-20:])]
    # a round of 16 reading 6 items each, then shard 0 alone: 6 + 6 + 6 + 6 >= 20
    assert table.calls == {"Query": SHARDS + 3}
