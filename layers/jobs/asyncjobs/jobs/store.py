"""DynamoDB access for jobs: the only module that knows the table's keys and expressions.

Keys. A job's item is keyed `pk` = `<tenant>#<shard>` and `job_id` (UUIDv7, time-ordered): one
partition key value takes at most 1,000 write units/s, and job ids always land at the end of their
partition, so split-for-heat cannot spread a hot tenant; SHARDS key values per tenant can. The shard
is a stable hash of the job's root id (an action `<job id>.NN` shares its job's shard), so a status
read is still one GetItem and a job with its actions still one `begins_with` Query. A listing reads
every shard newest first and merges them (aws/sharded.py). The `ByAction` index is keyed the same way
(`tenant_action` = `<tenant>#<action>#<shard>`) and projects keys only: its entry is written once,
when the job is created (no later write changes a key), and a listing by action reads the page's
items from the table (BatchGetItem).

Every state change is a conditional write, so concurrent or redelivered work can never move a job
backwards or overwrite a terminal state. Writes by an executor attempt are fenced by the job's
`attempts` counter: a worker whose lease was taken over can no longer write.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
import zlib
from dataclasses import dataclass
from typing import Any

from asyncjobs.aws.dynamo import ConditionFailed, Table, from_item, to_item
from asyncjobs.aws.sharded import Merge, Paused, Shard, first_read, shard_query
from asyncjobs.errors import InfrastructureError, InvalidRequest
from asyncjobs.jobs.ids import is_job_id
from asyncjobs.jobs.models import Job, JobError, JobStatus

BY_ACTION_INDEX = "ByAction"
MAX_PAGE_SIZE = 100
# Partition key values per tenant: each takes 1,000 write units/s, a job costs 3 (create, claim,
# finish) or more, so 16 lift a tenant's ceiling to about 5,000 jobs/s. Every listing page reads
# each shard once at least, so more shards cost every listing more. Changing it re-keys every item.
SHARDS = 16
# Shard Queries one listing page may make (the first round reads every shard once): a filter that
# matches few jobs would read on through a tenant's whole history; the page ends early with a
# cursor instead. Batches of items one page by action may read, likewise.
_MAX_QUERIES = 8 * SHARDS
_MAX_BATCHES = 8
# Items one shard Query may read (Limit): a shard whose pages the filter thins out reads twice as
# many each time it is read again, up to this.
_MAX_SHARD_READ = 128
_BATCH_GET_MAX = 100  # keys per BatchGetItem


def shard_of(job_id: str) -> int:
    """The shard of a job's items: CRC-32 (stable across processes and versions, unlike `hash`) of
    its root id, so a multi-action job's actions (`<job id>.NN`) share its partition. Every bit of
    the id, its 74 random ones included, moves the checksum's low bits, so the shards fill evenly
    whatever the time (tests/unit/test_job_keys.py counts them)."""
    root = job_id.split(".", 1)[0]
    return zlib.crc32(root.encode()) % SHARDS


def _pk(tenant_id: str, shard: int) -> str:
    return f"{tenant_id}#{shard:02d}"


def _action_pk(tenant_id: str, action: str, shard: int) -> str:
    return f"{tenant_id}#{action}#{shard:02d}"


def job_key(tenant_id: str, job_id: str) -> dict[str, Any]:
    """The key of a job's item, in DynamoDB's form (tools and tests that read items directly)."""
    return {"pk": {"S": _pk(tenant_id, shard_of(job_id))}, "job_id": {"S": job_id}}


def action_index_key(tenant_id: str, action: str, job_id: str) -> str:
    """The `ByAction` partition key of a job (not of an action of a multi-action job: unlisted)."""
    return _action_pk(tenant_id, action, shard_of(job_id))


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _indexes(value: Any) -> frozenset[int]:
    return frozenset(int(v) for v in value) if value else frozenset()


def job_from_item(item: dict[str, Any]) -> Job:
    err = item.get("error")
    return Job(
        tenant_id=item["tenant_id"],
        job_id=item["job_id"],
        action=item["action"],
        status=JobStatus(item["status"]),
        created_at=float(item["created_at"]),
        expires_at=int(item["expires_at"]),
        path_params=dict(item.get("path_params") or {}),
        input_json=item.get("input_json", "{}"),
        started_at=_num(item.get("started_at")),
        finished_at=_num(item.get("finished_at")),
        progress=int(item.get("progress", 0)),
        result_json=item.get("result_json"),
        error=JobError(err["code"], err["message"]) if err else None,
        attempts=int(item.get("attempts", 0)),
        lease_until=_num(item.get("lease_until")),
        cancel_requested=bool(item.get("cancel_requested", False)),
        input_key=item.get("input_key"),
        result_file=dict(item["result_file"]) if item.get("result_file") else None,
        parent_id=item.get("parent_id"),
        actions_total=int(item.get("actions_total", 0)),
        ended_actions=_indexes(item.get("ended_actions")),
        failed_actions=_indexes(item.get("failed_actions")),
        cancelled_actions=_indexes(item.get("cancelled_actions")),
        continuations=int(item.get("continuations", 0)),
        checkpoint_json=item.get("checkpoint_json") or None,
        checkpoint_key=item.get("checkpoint_key") or None,
    )


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    cursor: str | None


def encode_cursor(job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"j": job_id}).encode()).decode().rstrip("=")


def _is_cursor_id(value: str) -> bool:
    """A job id, or an action's id: a page that ends early (`_MAX_QUERIES`) ends where a shard's
    read stopped, which may be among a multi-action job's actions, before the job itself."""
    root, dot, index = value.partition(".")
    return is_job_id(root) and (not dot or (index.isascii() and index.isdigit() and len(index) <= 3))


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        job_id = json.loads(base64.urlsafe_b64decode(padded.encode()))["j"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidRequest("cursor is not valid: pass the `next_cursor` of a previous page") from exc
    if not isinstance(job_id, str) or not _is_cursor_id(job_id):
        raise InvalidRequest("cursor is not valid: pass the `next_cursor` of a previous page")
    return job_id


class JobStore(Table):
    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _key(tenant_id: str, job_id: str) -> dict[str, Any]:
        return job_key(tenant_id, job_id)

    def _update(self, job: Job, *, set_: str, condition: str, values: dict[str, Any]) -> Job:
        """`SET set_` on the job's item if `condition` holds; returns the job as stored. `#s` and
        `#err` name the `status` and `error` attributes (both reserved words)."""
        expression = f"SET {set_}"
        names = {n: a for n, a in (("#s", "status"), ("#err", "error")) if n in f"{expression} {condition}"}
        resp = self._call(
            "update_item",
            Key=self._key(job.tenant_id, job.job_id),
            UpdateExpression=expression,
            ConditionExpression=condition,
            **({"ExpressionAttributeNames": names} if names else {}),
            ExpressionAttributeValues=to_item(values),
            ReturnValues="ALL_NEW",
        )
        return job_from_item(from_item(resp["Attributes"]))

    # -- reads -----------------------------------------------------------------------------
    def get(self, tenant_id: str, job_id: str) -> Job | None:
        """One strongly consistent read: a status poll right after the 202 must see the job."""
        resp = self._call("get_item", Key=self._key(tenant_id, job_id), ConsistentRead=True)
        item = resp.get("Item")
        return job_from_item(from_item(item)) if item else None

    def get_tree(self, tenant_id: str, job_id: str) -> list[Job]:
        """A job and, for a multi-action job, its actions after it in order: one strongly
        consistent Query (more pages only when the actions' items exceed 1 MB together)."""
        jobs: list[Job] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :p AND begins_with(job_id, :j)",
            "ExpressionAttributeValues": {":p": job_key(tenant_id, job_id)["pk"], ":j": {"S": job_id}},
            "ConsistentRead": True,
        }
        while True:
            resp = self._call("query", **kwargs)
            jobs += [job_from_item(from_item(raw)) for raw in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return jobs
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def list(
        self,
        tenant_id: str,
        *,
        now: float,
        action: str | None = None,
        status: JobStatus | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> Page:
        """A tenant's unexpired jobs, newest first (job ids are time-ordered UUIDv7), merged from its
        shards; the cursor is the last job id returned, below which every shard continues."""
        before = decode_cursor(cursor) if cursor else None
        read = first_read(limit, SHARDS, _MAX_SHARD_READ)
        if action is None:
            return self._list_table(tenant_id, now, status, limit, before, read)
        return self._list_by_action(tenant_id, action, now, status, limit, before, read)

    def _merge(self, queries: list[dict[str, Any]], before: str | None, read: int) -> Merge:
        # _MAX_QUERIES read when the page starts, not when the module loads (tests lower it)
        return Merge(
            [Shard(q, "job_id", before, read, _MAX_SHARD_READ) for q in queries], self._call, _MAX_QUERIES
        )

    @staticmethod
    def _shard_query(key: str, pk: str, before: str | None, **kw: Any) -> dict[str, Any]:
        return shard_query(key, pk, "job_id", before, **kw)

    def _list_table(
        self, tenant_id: str, now: float, status: JobStatus | None, limit: int, before: str | None, read: int
    ) -> Page:
        names = {"#e": "expires_at"}
        values: dict[str, Any] = {":now": {"N": str(int(now))}}
        # The actions of multi-action jobs are listed within their job, not as jobs of their own.
        filters = ["#e > :now", "attribute_not_exists(parent_id)"]
        if status is not None:
            names["#s"] = "status"
            values[":s"] = {"S": status.value}
            filters.append("#s = :s")
        queries = [
            self._shard_query(
                "pk", _pk(tenant_id, shard), before, filters=filters, names=names, values=values
            )
            for shard in range(SHARDS)
        ]
        merge = self._merge(queries, before, read)
        jobs: list[Job] = []
        try:
            while len(jobs) < limit:
                item = merge.pop()
                if item is None:
                    return Page(jobs, None)
                jobs.append(job_from_item(from_item(item)))
        except Paused as paused:
            return Page(jobs, encode_cursor(paused.after))
        return Page(jobs, encode_cursor(jobs[-1].job_id) if merge.more() else None)

    def _list_by_action(
        self,
        tenant_id: str,
        action: str,
        now: float,
        status: JobStatus | None,
        limit: int,
        before: str | None,
        read: int,
    ) -> Page:
        """The index gives the page's job ids; their items are read from the table, where expired
        and (with `status`) other jobs are left out, so a page may take more than one batch."""
        queries = [
            self._shard_query(
                "tenant_action", _action_pk(tenant_id, action, shard), before, index=BY_ACTION_INDEX
            )
            for shard in range(SHARDS)
        ]
        merge = self._merge(queries, before, read)
        jobs: list[Job] = []
        for _ in range(_MAX_BATCHES):
            # with a status filter, read a batch of 25 at least: most may not match
            want = min(_BATCH_GET_MAX, limit - len(jobs) if status is None else max(limit - len(jobs), 25))
            ids: list[str] = []
            paused: str | None = None
            try:
                while len(ids) < want and (item := merge.pop()) is not None:
                    ids.append(item["job_id"]["S"])
            except Paused as exc:
                paused = exc.after
            found = self._batch_get(tenant_id, ids)
            for job_id in ids:
                job = found.get(job_id)
                if job is None or job.expired(now) or (status is not None and job.status is not status):
                    continue  # deleted (by TTL) since the index was read, expired, or filtered out
                jobs.append(job)
                if len(jobs) == limit:
                    more = job_id != ids[-1] or merge.more()
                    return Page(jobs, encode_cursor(job_id) if more else None)
            if paused is not None:
                return Page(jobs, encode_cursor(paused))
            if len(ids) < want:  # every shard read to its end
                return Page(jobs, None)
        return Page(jobs, encode_cursor(ids[-1]))

    def _batch_get(self, tenant_id: str, job_ids: list[str]) -> dict[str, Job]:
        """The jobs' items, strongly consistent: an id the index has is then always found (the
        index trails the table), so no job on the page is skipped for being too new."""
        found: dict[str, Job] = {}
        keys = [job_key(tenant_id, j) for j in job_ids]
        stalled = 0
        while keys:
            resp = self._client_call(
                "batch_get_item",
                RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}},
            )
            got = resp.get("Responses", {}).get(self._table, [])
            for raw in got:
                job = job_from_item(from_item(raw))
                found[job.job_id] = job
            # keys DynamoDB left unread (over 16 MB, or throttled): read them again, backing off
            # while nothing at all is read
            keys = resp.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            stalled = 0 if got else stalled + 1
            if keys and stalled:
                if stalled == 3:
                    raise InfrastructureError(f"DynamoDB batch_get_item left {len(keys)} keys unread")
                time.sleep(0.05 * 2**stalled)
        return found

    # -- writes ----------------------------------------------------------------------------
    @staticmethod
    def _new_item(job: Job) -> dict[str, Any]:
        return {
            "pk": _pk(job.tenant_id, shard_of(job.job_id)),
            "tenant_id": job.tenant_id,  # read back by job_from_item
            "job_id": job.job_id,
            # listed by action (the ByAction index) unless it is one action of a multi-action job
            "tenant_action": None
            if job.parent_id
            else action_index_key(job.tenant_id, job.action, job.job_id),
            "parent_id": job.parent_id,
            "actions_total": job.actions_total or None,
            "action": job.action,
            "status": job.status.value,
            "created_at": job.created_at,
            "expires_at": job.expires_at,
            "path_params": job.path_params,
            "input_json": None if job.input_key else job.input_json,
            "input_key": job.input_key,
            "progress": 0,
            "attempts": 0,
        }

    def create(self, job: Job) -> None:
        item = self._new_item(job)
        # Job ids are new random UUIDv7s: a failed condition can only mean that an earlier try of
        # this very put committed and its response was lost (the SDK then retried). It is stored.
        with contextlib.suppress(ConditionFailed):
            self._call(
                "put_item",
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(job_id)",
            )

    def create_multi(self, job: Job, actions: list[Job]) -> None:
        """Stores a multi-action job and its actions in one transaction: all of them or none, so
        no action's message ever finds its job missing for good while others run. The SDK retries
        a transaction with the same client token, which DynamoDB treats as the same request; a
        failed condition can only be an earlier try of this very write (new random ids)."""
        new = "attribute_not_exists(job_id)"
        items = [to_item(self._new_item(j)) for j in [job, *actions]]
        puts = [{"Put": {"Item": item, "ConditionExpression": new}} for item in items]
        with contextlib.suppress(ConditionFailed):
            self._transact_write(*puts)

    def void(self, job: Job, now: float) -> bool:
        """Puts an already expired tombstone where a job whose store failed would be, so a late
        put of the job can no longer land (the same `attribute_not_exists` condition). Every
        reader hides expired jobs; TTL deletes it. False if the job itself is there after all."""
        item = {
            "pk": _pk(job.tenant_id, shard_of(job.job_id)),
            "tenant_id": job.tenant_id,
            "job_id": job.job_id,
            "action": job.action,
            "status": JobStatus.FAILED.value,
            "created_at": job.created_at,
            "expires_at": int(now) - 1,
            "error": {"code": "not_stored", "message": "The job could not be stored and did not run."},
            "attempts": 0,
        }
        try:
            self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(job_id)")
        except ConditionFailed:
            stored = self.get(job.tenant_id, job.job_id)
            return stored is None or stored.expired(now)  # our own tombstone, its response lost
        return True

    def start(self, job: Job, now: float, lease_until: float) -> Job:
        """Claims the job for one attempt: from `queued`, or from `in_progress` whose lease ran out.

        Raises ConditionFailed when the job is terminal, its cancel was requested, or a live attempt
        holds its lease.
        """
        return self._update(
            job,
            set_=(
                "#s = :running, started_at = if_not_exists(started_at, :now), "
                "lease_until = :lease, attempts = attempts + :one"
            ),
            condition=(
                "attempts = :attempts AND (#s = :queued OR (#s = :running AND lease_until < :now))"
                " AND (attribute_not_exists(cancel_requested) OR cancel_requested = :false)"
            ),
            values={
                ":running": "in_progress",
                ":queued": "queued",
                ":now": now,
                ":lease": lease_until,
                ":one": 1,
                ":attempts": job.attempts,
                ":false": False,
            },
        )

    def report_progress(self, job: Job, progress: int) -> Job:
        """Records progress for the attempt that holds the job; returns the job as stored."""
        return self._update(
            job,
            set_="progress = :p",
            condition="#s = :running AND attempts = :attempt",
            values={":p": progress, ":running": "in_progress", ":attempt": job.attempts},
        )

    def checkpoint(
        self, job: Job, progress: int, checkpoint_json: str | None, checkpoint_key: str | None
    ) -> Job:
        """Stores the action's checkpoint (one of `checkpoint_json`, inline, or `checkpoint_key`, a
        file) and its progress, for the attempt that holds the job; returns the job as stored."""
        return self._update(
            job,
            set_="progress = :p, checkpoint_json = :cj, checkpoint_key = :ck",
            condition="#s = :running AND attempts = :attempt",
            values={
                ":p": progress,
                ":cj": checkpoint_json or "",
                ":ck": checkpoint_key or "",
                ":running": "in_progress",
                ":attempt": job.attempts,
            },
        )

    def continue_later(
        self, job: Job, now: float, progress: int, checkpoint_json: str | None, checkpoint_key: str | None
    ) -> Job:
        """Ends the attempt that holds the job by continuing: stores its checkpoint and progress,
        counts one more continuation and releases the lease (the job stays `in_progress`), in one
        write fenced by `attempts`. The next claim resumes from that checkpoint."""
        return self._update(
            job,
            set_=(
                "progress = :p, checkpoint_json = :cj, checkpoint_key = :ck, lease_until = :now, "
                "continuations = if_not_exists(continuations, :zero) + :one"
            ),
            condition="#s = :running AND attempts = :attempt",
            values={
                ":p": progress,
                ":cj": checkpoint_json or "",
                ":ck": checkpoint_key or "",
                ":now": now - 0.001,
                ":zero": 0,
                ":one": 1,
                ":running": "in_progress",
                ":attempt": job.attempts,
            },
        )

    def finish(
        self,
        job: Job,
        status: JobStatus,
        now: float,
        *,
        result_json: str | None = None,
        result_file: dict[str, Any] | None = None,
        error: JobError | None = None,
    ) -> Job:
        """Writes the terminal state of the attempt that holds the job (fenced by `attempts`)."""
        assert status.terminal
        sets = ["#s = :status", "finished_at = :now", "lease_until = :now"]
        values: dict[str, Any] = {
            ":status": status.value,
            ":now": now,
            ":running": "in_progress",
            ":attempt": job.attempts,
        }
        if status is JobStatus.SUCCEEDED:
            sets.append("progress = :hundred")
            values[":hundred"] = 100
        if result_json is not None:
            sets.append("result_json = :r")
            values[":r"] = result_json
        if result_file is not None:
            sets.append("result_file = :rf")
            values[":rf"] = result_file
        if error is not None:
            sets.append("#err = :err")
            values[":err"] = error.to_dict()
        return self._update(
            job, set_=", ".join(sets), condition="#s = :running AND attempts = :attempt", values=values
        )

    def end_unfinished(self, job: Job, now: float, status: JobStatus, error: JobError | None) -> Job:
        """Ends a job no attempt will finish: from `queued`, or `in_progress` whose lease ran out
        (its attempt crashed or timed out). Fenced by `attempts`, so a live attempt is never cut
        short. `cancelled` when its cancel was requested, else `failed` with `error`."""
        values: dict[str, Any] = {
            ":status": status.value,
            ":queued": "queued",
            ":running": "in_progress",
            ":now": now,
            ":attempts": job.attempts,
        }
        sets = "#s = :status, finished_at = :now"
        condition = "attempts = :attempts AND (#s = :queued OR (#s = :running AND lease_until < :now))"
        if error is not None:
            values[":err"] = error.to_dict()
            sets += ", #err = :err"
        if status is not JobStatus.CANCELLED:
            # a cancel accepted since the job was read wins: the caller was told it would
            condition += " AND (attribute_not_exists(cancel_requested) OR cancel_requested = :false)"
            values[":false"] = False
        return self._update(job, set_=sets, condition=condition, values=values)

    def cancel_queued(self, job: Job, now: float) -> Job:
        return self._update(
            job,
            set_="#s = :cancelled, finished_at = :now, cancel_requested = :t",
            condition="#s = :queued",
            values={":cancelled": "cancelled", ":queued": "queued", ":now": now, ":t": True},
        )

    def request_cancel(self, job: Job) -> Job:
        return self._update(
            job,
            set_="cancel_requested = :t",
            condition="#s = :running",
            values={":t": True, ":running": "in_progress"},
        )

    def release(self, job: Job, now: float) -> None:
        """Ends this attempt's lease early (it failed transiently) so a redelivery may start."""
        self._update(
            job,
            set_="lease_until = :now",
            condition="#s = :running AND attempts = :attempt",
            values={":now": now - 0.001, ":running": "in_progress", ":attempt": job.attempts},
        )

    # -- multi-action jobs -----------------------------------------------------------------
    def mark_started(self, job: Job, now: float) -> None:
        """A multi-action job is `in_progress` from its first action's start (ConditionFailed after)."""
        self._update(
            job,
            set_="#s = :running, started_at = :now",
            condition="#s = :queued",
            values={":running": "in_progress", ":queued": "queued", ":now": now},
        )

    def record_action_end(self, job: Job, index: int, failed: bool, cancelled: bool = False) -> Job:
        """Adds action `index` to the job's ended (and failed, or cancelled) actions, once: raises
        ConditionFailed if it was recorded before. Returns the job as stored."""
        adds = "ended_actions :i" + (", failed_actions :i" if failed else "")
        adds += ", cancelled_actions :i" if cancelled else ""
        resp = self._call(
            "update_item",
            Key=self._key(job.tenant_id, job.job_id),
            UpdateExpression=f"ADD {adds}",
            ConditionExpression="attribute_exists(job_id) AND NOT contains(ended_actions, :n)",
            ExpressionAttributeValues={":i": {"NS": [str(index)]}, ":n": {"N": str(index)}},
            ReturnValues="ALL_NEW",
        )
        return job_from_item(from_item(resp["Attributes"]))

    def finish_multi(self, job: Job, status: JobStatus, now: float, error: JobError | None) -> Job:
        """Ends a multi-action job once every action has ended (ConditionFailed if it had ended)."""
        # progress 100 whatever the outcome: every action has ended (listings show this value)
        sets = (
            "#s = :status, finished_at = :now, started_at = if_not_exists(started_at, :now), "
            "progress = :hundred"
        )
        values: dict[str, Any] = {
            ":status": status.value,
            ":now": now,
            ":q": "queued",
            ":r": "in_progress",
            ":hundred": 100,
        }
        if error is not None:
            sets += ", #err = :err"
            values[":err"] = error.to_dict()
        return self._update(job, set_=sets, condition="#s IN (:q, :r)", values=values)

    def request_cancel_multi(self, job: Job) -> Job:
        """Marks a multi-action job's cancel as requested (ConditionFailed once it has ended)."""
        return self._update(
            job,
            set_="cancel_requested = :t",
            condition="#s IN (:q, :r)",
            values={":t": True, ":q": "queued", ":r": "in_progress"},
        )
