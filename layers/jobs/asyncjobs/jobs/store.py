"""DynamoDB access for jobs: the only module that knows the table's keys and expressions.

Every state change is a conditional write, so concurrent or redelivered work can never move a job
backwards or overwrite a terminal state. Writes by an executor attempt are fenced by the job's
`attempts` counter: a worker whose lease was taken over can no longer write.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from asyncjobs.aws.dynamo import ConditionFailed, Table, from_item, to_item
from asyncjobs.errors import InvalidRequest
from asyncjobs.jobs.ids import is_job_id
from asyncjobs.jobs.models import Job, JobError, JobStatus

BY_ACTION_INDEX = "ByAction"
MAX_PAGE_SIZE = 100
_MAX_QUERY_PAGES = 10


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
    )


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    cursor: str | None


def encode_cursor(job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"j": job_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        job_id = json.loads(base64.urlsafe_b64decode(padded.encode()))["j"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidRequest("cursor is not valid: pass the `next_cursor` of a previous page") from exc
    if not isinstance(job_id, str) or not is_job_id(job_id):
        raise InvalidRequest("cursor is not valid: pass the `next_cursor` of a previous page")
    return job_id


class JobStore(Table):
    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _key(tenant_id: str, job_id: str) -> dict[str, Any]:
        return {"tenant_id": {"S": tenant_id}, "job_id": {"S": job_id}}

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
            "KeyConditionExpression": "tenant_id = :t AND begins_with(job_id, :j)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":j": {"S": job_id}},
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
        """A tenant's unexpired jobs, newest first (job ids are time-ordered UUIDv7)."""
        start_job = decode_cursor(cursor) if cursor else None
        names = {"#e": "expires_at"}
        values: dict[str, Any] = {":now": {"N": str(int(now))}}
        # The actions of multi-action jobs are listed within their job, not as jobs of their own.
        filters = ["#e > :now", "attribute_not_exists(parent_id)"]
        if status is not None:
            names["#s"] = "status"
            values[":s"] = {"S": status.value}
            filters.append("#s = :s")
        if action is not None:
            names["#p"] = "tenant_action"
            values[":p"] = {"S": f"{tenant_id}#{action}"}
            index: dict[str, Any] = {"IndexName": BY_ACTION_INDEX}
        else:
            names["#p"] = "tenant_id"
            values[":p"] = {"S": tenant_id}
            index = {}

        def start_key(job_id: str) -> dict[str, Any]:
            key = self._key(tenant_id, job_id)
            if action is not None:
                key["tenant_action"] = {"S": f"{tenant_id}#{action}"}
            return key

        jobs: list[Job] = []
        esk = start_key(start_job) if start_job else None
        # A filtered query may return sparse pages; read on until the page is full, within a bound.
        for _ in range(_MAX_QUERY_PAGES):
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": "#p = :p",
                "FilterExpression": " AND ".join(filters),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "Limit": max(limit, 25),
                **index,
            }
            if esk:
                kwargs["ExclusiveStartKey"] = esk
            resp = self._call("query", **kwargs)
            for raw in resp.get("Items", []):
                jobs.append(job_from_item(from_item(raw)))
                if len(jobs) == limit:
                    more = "LastEvaluatedKey" in resp or raw is not resp["Items"][-1]
                    return Page(jobs, encode_cursor(jobs[-1].job_id) if more else None)
            lek = resp.get("LastEvaluatedKey")
            if not lek:
                return Page(jobs, None)
            esk = lek
        return Page(jobs, encode_cursor(from_item(esk)["job_id"]))

    # -- writes ----------------------------------------------------------------------------
    @staticmethod
    def _new_item(job: Job) -> dict[str, Any]:
        return {
            "tenant_id": job.tenant_id,
            "job_id": job.job_id,
            # listed by action (the ByAction index) unless it is one action of a multi-action job
            "tenant_action": None if job.parent_id else f"{job.tenant_id}#{job.action}",
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
