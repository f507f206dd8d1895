"""Listings over a sharded partition key: a table that spreads one owner's items over several key
values (one partition key value takes at most 1,000 write units/s) lists them newest first by
reading every shard and merging, with one cursor, a bounded number of Queries per page, and the
shards' Queries run at once. The jobs table (its tenants' jobs) and the webhooks table (a
subscription's delivery log) list this way; each store builds its shards' Queries and turns items
into its records, this module only pages and merges them.

Sort keys must be time-ordered strings (UUIDv7 ids, or a fixed prefix before one): newest first is
then sort key descending in every shard, and one sort key value is a cursor valid in all of them.
"""

from __future__ import annotations

import contextvars
import math
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

# Threads the Queries of one listing page run on: the most shards any table has (jobs, webhooks).
POOL_THREADS = 16


def first_read(limit: int, shards: int, most: int) -> int:
    """Items each shard's first Query reads: a shard's share of a page is about limit / shards;
    twice that makes a second round rare, and never more than the page (a Query reads 4 KB for one
    read unit anyway) nor `most`."""
    return min(limit, 2 * math.ceil(limit / shards) + 2, most)


def shard_query(
    key: str,
    pk: str,
    sort_key: str,
    before: str | None,
    *,
    filters: list[str] | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    index: str | None = None,
) -> dict[str, Any]:
    """One shard's Query, newest first, below the cursor (a key condition, not a made-up
    ExclusiveStartKey: the cursor's item is in another shard, or gone)."""
    names = {"#p": key, **(names or {})}
    values = {":p": {"S": pk}, **(values or {})}
    condition = "#p = :p"
    if before is not None:
        condition += f" AND {sort_key} < :before"
        values[":before"] = {"S": before}
    query: dict[str, Any] = {
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    if filters:
        query["FilterExpression"] = " AND ".join(filters)
    if index:
        query["IndexName"] = index
    return query


class Paused(Exception):
    """A listing page used its Queries: it ends here, and the next continues below `after` (a sort
    key value)."""

    def __init__(self, after: str) -> None:
        super().__init__(after)
        self.after = after


class Shard:
    """One shard's part of a listing: the items read from it and not yet merged, newest first, and
    where its next read starts (`bound`: everything it has not read sorts below this sort key)."""

    def __init__(self, query: dict[str, Any], sort_key: str, bound: str | None, read: int, most: int) -> None:
        self.query = query
        self.sort_key = sort_key
        self.bound = bound
        self.read = read
        self.most = most
        self.items: deque[dict[str, Any]] = deque()
        self.done = False
        self._start: dict[str, Any] | None = None

    def head(self) -> str:
        return str(self.items[0][self.sort_key]["S"])

    def fetch(self, call: Callable[..., Any]) -> None:
        """Reads one Query page on (a shard that is done has nothing left)."""
        kwargs = {**self.query, "Limit": self.read}
        if self._start is not None:
            kwargs["ExclusiveStartKey"] = self._start
        resp = call("query", **kwargs)
        got = resp.get("Items", [])
        self.items.extend(got)
        self._start = resp.get("LastEvaluatedKey")
        if self._start is None:
            self.done = True
        else:
            self.bound = self._start[self.sort_key]["S"]
        if len(got) < self.read:  # the filter thinned this page: read further next time
            self.read = min(2 * self.read, self.most)


class Merge:
    """The shards' items merged newest first (sort keys are time-ordered), reading a shard only when
    the next item could be in it: when it holds no item read and its unread part may hold items
    newer than the newest item read elsewhere. The shards that need a read are read together."""

    def __init__(self, shards: list[Shard], call: Callable[..., Any], max_queries: int) -> None:
        self._shards = shards
        self._call = call
        self._max_queries = max_queries
        self.queries = 0

    def pop(self) -> dict[str, Any] | None:
        """The newest item not yet taken, or None once every shard is read to its end. Raises
        Paused instead of making more than `max_queries` Queries: everything taken so far sorts
        above its `after`, and everything not taken below it."""
        while True:
            held = [s for s in self._shards if s.items]
            best = max(held, key=Shard.head) if held else None
            top = best.head() if best else None
            need = [
                s
                for s in self._shards
                if not s.items and not s.done and (top is None or s.bound is None or s.bound > top)
            ]
            if not need:
                return best.items.popleft() if best else None
            if self.queries and self.queries + len(need) > self._max_queries:
                # every shard was read once (the first round reads them all), so each has a bound
                raise Paused(max(str(s.bound) for s in need))
            self.queries += len(need)
            run_all([partial(s.fetch, self._call) for s in need])

    def more(self) -> bool:
        """Whether anything may be left below the items taken (a shard not read to its end may
        turn out to hold nothing more that passes the filter)."""
        return any(s.items or not s.done for s in self._shards)


_pool: Any = None


def run_all(tasks: list[Callable[[], None]]) -> None:
    """Runs the shards' Queries at once: a page's latency is then about one Query's rather than
    one per shard. The pool lives as long as the process (a warm Lambda reuses it); its threads
    start on first use, so functions that never list never pay for it."""
    global _pool
    if len(tasks) == 1:
        tasks[0]()
        return
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="shard")
    # each in a copy of the caller's context: what it set up (context variables) holds there too
    futures = [_pool.submit(contextvars.copy_context().run, task) for task in tasks]
    # every Query ends before a failure is raised: none may run on into the next request (or into
    # a frozen Lambda environment)
    for future in futures:
        future.exception()
    for future in futures:
        future.result()
