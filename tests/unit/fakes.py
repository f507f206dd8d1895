"""In-memory fakes of the adapters, for unit tests of the state machines (no moto, no AWS).

Each fake has the real adapter's method names and signatures, and its conditional writes raise
ConditionFailed exactly when DynamoDB would (the conditions are copied next to each method from
jobs/store.py and webhooks/store.py). Faults are injected per operation:
- `fail(op, exc)`: the next call of `op` raises `exc` without writing (a throttled request, a
  refused item);
- `lose_response(op)`: the next call of `op` writes, then raises ConditionFailed, which is what the
  caller sees when the response was lost and the SDK's retry of the same write failed its
  condition; `lose_response(op, exc)` writes, then raises `exc` (a timeout after the commit:
  InfrastructureError). A store method that swallows ConditionFailed (`create`, `create_multi`)
  swallows it here too.
FakeJobStore also keeps `committed`: the operations whose writes took effect, in order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from asyncjobs.aws.dynamo import ConditionFailed
from asyncjobs.errors import InfrastructureError, NotFound
from asyncjobs.jobs.events import event_detail
from asyncjobs.jobs.models import Job, JobError, JobStatus
from asyncjobs.jobs.store import Page, decode_cursor, encode_cursor
from asyncjobs.webhooks.http_client import AttemptResult
from asyncjobs.webhooks.models import Delivery, Subscription
from asyncjobs.webhooks.ssrf import Target


def _ms(value: float) -> float:
    """DynamoDB keeps what the stores write to the millisecond (their `_dec` / `_num`)."""
    return round(value, 3)


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Faults:
    def __init__(self) -> None:
        self._fail: dict[str, list[Exception]] = {}
        self._lost: dict[str, list[Exception]] = {}
        self.calls: list[str] = []

    def fail(self, op: str, exc: Exception | None = None, times: int = 1) -> None:
        self._fail.setdefault(op, []).extend([exc or InfrastructureError(f"injected: {op}")] * times)

    def lose_response(self, op: str, exc: Exception | None = None, times: int = 1) -> None:
        lost = exc or ConditionFailed(f"injected: the response of {op} was lost and its retry failed")
        self._lost.setdefault(op, []).extend([lost] * times)

    def _enter(self, op: str) -> None:
        self.calls.append(op)
        if self._fail.get(op):
            raise self._fail[op].pop(0)

    def _leave(self, op: str, value: Any) -> Any:
        if self._lost.get(op):
            raise self._lost[op].pop(0)
        return value


# -- jobs ------------------------------------------------------------------------------------
class FakeJobStore(_Faults):
    """jobs/store.py's JobStore over a dict (the writes the executor and the use cases make)."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[tuple[str, str], Job] = {}
        # the ByAction index's partition key; None (absent) for an action of a multi-action job
        self.tenant_action: dict[tuple[str, str], str | None] = {}
        self.committed: list[str] = []

    @staticmethod
    def _new_item(job: Job) -> Job:
        """The job as `JobStore._new_item` stores it: only these attributes, progress and attempts 0."""
        return Job(
            tenant_id=job.tenant_id,
            job_id=job.job_id,
            action=job.action,
            status=job.status,
            created_at=_ms(job.created_at),
            expires_at=job.expires_at,
            path_params=dict(job.path_params),
            input_json="{}" if job.input_key else job.input_json,
            input_key=job.input_key,
            parent_id=job.parent_id,
            actions_total=job.actions_total,
            progress=0,
            attempts=0,
        )

    def _put_new(self, job: Job) -> None:
        key = (job.tenant_id, job.job_id)
        self.jobs[key] = self._new_item(job)
        # "tenant_action": None if job.parent_id else f"{job.tenant_id}#{job.action}"
        self.tenant_action[key] = None if job.parent_id else f"{job.tenant_id}#{job.action}"

    def _stored(self, job: Job) -> Job:
        current = self.jobs.get((job.tenant_id, job.job_id))
        if current is None:  # an update's condition on a missing item fails
            raise ConditionFailed("no such item")
        return current

    def _write(self, op: str, job: Job) -> Job:
        self.jobs[(job.tenant_id, job.job_id)] = job
        self.committed.append(op)
        return self._leave(op, job)

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        self._enter("get")
        return self.jobs.get((tenant_id, job_id))

    def get_tree(self, tenant_id: str, job_id: str) -> list[Job]:
        self._enter("get_tree")
        # tenant_id = :t AND begins_with(job_id, :j), in key order: the job, then its actions
        return [j for (t, i), j in sorted(self.jobs.items()) if t == tenant_id and i.startswith(job_id)]

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
        self._enter("list")
        start = decode_cursor(cursor) if cursor else None
        # The tenant's jobs on the table or on the sparse ByAction index (tenant_action: items
        # without it are not in the index), newest first, below the cursor
        keys = sorted(
            (
                i
                for (t, i) in self.jobs
                if t == tenant_id
                and (action is None or self.tenant_action.get((t, i)) == f"{tenant_id}#{action}")
                and (start is None or i < start)
            ),
            reverse=True,
        )

        def matches(job: Job) -> bool:
            # #e > :now AND attribute_not_exists(parent_id) [AND #s = :s]
            return (
                job.expires_at > int(now)
                and job.parent_id is None
                and (status is None or job.status is status)
            )

        # The store merges the tenant's shards newest first; the page ends with a cursor when
        # more jobs may follow (here: exactly when they do).
        found = [job for i in keys if matches(job := self.jobs[(tenant_id, i)])]
        jobs = found[:limit]
        return Page(jobs, encode_cursor(jobs[-1].job_id) if len(found) > limit else None)

    def create(self, job: Job) -> None:
        self._enter("create")
        # attribute_not_exists(job_id), and a failed condition is swallowed (the store's reason)
        if (job.tenant_id, job.job_id) not in self.jobs:
            self._put_new(job)
            self.committed.append("create")
        with contextlib.suppress(ConditionFailed):
            self._leave("create", None)

    def create_multi(self, job: Job, actions: list[Job]) -> None:
        self._enter("create_multi")
        # one transaction of Puts, each attribute_not_exists(job_id): one failed condition cancels
        # all of them, and the store swallows it (an earlier try of this very write committed)
        if not any((j.tenant_id, j.job_id) in self.jobs for j in [job, *actions]):
            for j in [job, *actions]:
                self._put_new(j)
            self.committed.append("create_multi")
        with contextlib.suppress(ConditionFailed):
            self._leave("create_multi", None)

    def void(self, job: Job, now: float) -> bool:
        self._enter("void")
        # attribute_not_exists(job_id); on a failed condition the store reads the job again
        key = (job.tenant_id, job.job_id)
        if key in self.jobs:
            stored = self.get(job.tenant_id, job.job_id)
            return stored is None or stored.expired(now)  # our own tombstone, its response lost
        self.jobs[key] = Job(
            tenant_id=job.tenant_id,
            job_id=job.job_id,
            action=job.action,
            status=JobStatus.FAILED,
            created_at=_ms(job.created_at),
            expires_at=int(now) - 1,
            error=JobError("not_stored", "The job could not be stored and did not run."),
        )
        self.tenant_action[key] = None
        self.committed.append("void")
        return True

    def start(self, job: Job, now: float, lease_until: float) -> Job:
        self._enter("start")
        # attempts = :attempts AND (#s = queued OR (#s = in_progress AND lease_until < :now))
        # AND NOT cancel_requested
        cur = self._stored(job)
        expired = cur.status is JobStatus.IN_PROGRESS and (cur.lease_until or 0) < _ms(now)
        if cur.attempts != job.attempts or not (cur.status is JobStatus.QUEUED or expired):
            raise ConditionFailed("start")
        if cur.cancel_requested:
            raise ConditionFailed("start: cancel requested")
        return self._write(
            "start",
            replace(
                cur,
                status=JobStatus.IN_PROGRESS,
                started_at=cur.started_at if cur.started_at is not None else _ms(now),
                lease_until=_ms(lease_until),
                attempts=cur.attempts + 1,
            ),
        )

    def _held(self, job: Job, op: str) -> Job:
        # #s = in_progress AND attempts = :attempt
        cur = self._stored(job)
        if cur.status is not JobStatus.IN_PROGRESS or cur.attempts != job.attempts:
            raise ConditionFailed(op)
        return cur

    def report_progress(self, job: Job, progress: int) -> Job:
        self._enter("report_progress")
        return self._write("report_progress", replace(self._held(job, "report_progress"), progress=progress))

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
        self._enter("finish")
        assert status.terminal
        cur = self._held(job, "finish")
        ended = replace(cur, status=status, finished_at=_ms(now), lease_until=_ms(now))
        if status is JobStatus.SUCCEEDED:
            ended = replace(ended, progress=100)
        if result_json is not None:
            ended = replace(ended, result_json=result_json)
        if result_file is not None:
            ended = replace(ended, result_file=result_file)
        if error is not None:
            ended = replace(ended, error=error)
        return self._write("finish", ended)

    def checkpoint(
        self, job: Job, progress: int, checkpoint_json: str | None, checkpoint_key: str | None
    ) -> Job:
        self._enter("checkpoint")
        # SET progress, checkpoint_json, checkpoint_key; #s = in_progress AND attempts = :attempt
        cur = self._held(job, "checkpoint")
        return self._write(
            "checkpoint",
            replace(cur, progress=progress, checkpoint_json=checkpoint_json, checkpoint_key=checkpoint_key),
        )

    def continue_later(
        self, job: Job, now: float, progress: int, checkpoint_json: str | None, checkpoint_key: str | None
    ) -> Job:
        self._enter("continue_later")
        # as checkpoint, and lease_until = :now - 0.001, continuations + 1
        cur = self._held(job, "continue_later")
        return self._write(
            "continue_later",
            replace(
                cur,
                progress=progress,
                checkpoint_json=checkpoint_json,
                checkpoint_key=checkpoint_key,
                lease_until=_ms(now - 0.001),
                continuations=cur.continuations + 1,
            ),
        )

    def end_unfinished(self, job: Job, now: float, status: JobStatus, error: JobError | None) -> Job:
        self._enter("end_unfinished")
        # attempts = :attempts AND (#s = queued OR (#s = in_progress AND lease_until < :now)),
        # and unless ending it `cancelled`, AND NOT cancel_requested
        cur = self._stored(job)
        expired = cur.status is JobStatus.IN_PROGRESS and (cur.lease_until or 0) < _ms(now)
        if cur.attempts != job.attempts or not (cur.status is JobStatus.QUEUED or expired):
            raise ConditionFailed("end_unfinished")
        if status is not JobStatus.CANCELLED and cur.cancel_requested:
            raise ConditionFailed("end_unfinished: cancel requested")
        ended = replace(cur, status=status, finished_at=_ms(now))
        return self._write("end_unfinished", ended if error is None else replace(ended, error=error))

    def cancel_queued(self, job: Job, now: float) -> Job:
        self._enter("cancel_queued")
        cur = self._stored(job)
        if cur.status is not JobStatus.QUEUED:
            raise ConditionFailed("cancel_queued")
        return self._write(
            "cancel_queued",
            replace(cur, status=JobStatus.CANCELLED, finished_at=_ms(now), cancel_requested=True),
        )

    def request_cancel(self, job: Job) -> Job:
        self._enter("request_cancel")
        cur = self._stored(job)
        if cur.status is not JobStatus.IN_PROGRESS:
            raise ConditionFailed("request_cancel")
        return self._write("request_cancel", replace(cur, cancel_requested=True))

    def release(self, job: Job, now: float) -> None:
        self._enter("release")
        self._write("release", replace(self._held(job, "release"), lease_until=_ms(now - 0.001)))

    # -- multi-action jobs ---------------------------------------------------------------------
    def mark_started(self, job: Job, now: float) -> None:
        self._enter("mark_started")
        # SET #s = in_progress, started_at = :now; condition #s = :queued
        cur = self._stored(job)
        if cur.status is not JobStatus.QUEUED:
            raise ConditionFailed("mark_started")
        self._write("mark_started", replace(cur, status=JobStatus.IN_PROGRESS, started_at=_ms(now)))

    def record_action_end(self, job: Job, index: int, failed: bool, cancelled: bool = False) -> Job:
        self._enter("record_action_end")
        # ADD ended_actions :i[, failed_actions :i][, cancelled_actions :i]
        # condition: attribute_exists(job_id) AND NOT contains(ended_actions, :n)
        cur = self._stored(job)
        if index in cur.ended_actions:
            raise ConditionFailed("record_action_end: recorded before")
        recorded = replace(cur, ended_actions=cur.ended_actions | {index})
        if failed:
            recorded = replace(recorded, failed_actions=cur.failed_actions | {index})
        if cancelled:
            recorded = replace(recorded, cancelled_actions=cur.cancelled_actions | {index})
        return self._write("record_action_end", recorded)

    def finish_multi(self, job: Job, status: JobStatus, now: float, error: JobError | None) -> Job:
        self._enter("finish_multi")
        # SET #s = :status, finished_at = :now, started_at = if_not_exists(started_at, :now),
        # progress = :hundred [, #err = :err]; condition #s IN (:q, :r)
        cur = self._stored(job)
        if cur.status not in (JobStatus.QUEUED, JobStatus.IN_PROGRESS):
            raise ConditionFailed("finish_multi")
        ended = replace(
            cur,
            status=status,
            finished_at=_ms(now),
            started_at=cur.started_at if cur.started_at is not None else _ms(now),
            progress=100,
        )
        if error is not None:
            ended = replace(ended, error=error)
        return self._write("finish_multi", ended)

    def request_cancel_multi(self, job: Job) -> Job:
        self._enter("request_cancel_multi")
        # SET cancel_requested = :t; condition #s IN (:q, :r)
        cur = self._stored(job)
        if cur.status not in (JobStatus.QUEUED, JobStatus.IN_PROGRESS):
            raise ConditionFailed("request_cancel_multi")
        return self._write("request_cancel_multi", replace(cur, cancel_requested=True))


class FakeJobQueue(_Faults):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []
        # continuation messages: (tenant, job, continuation)
        self.continued: list[tuple[str, str, int]] = []
        self.returned: list[tuple[str, int]] = []

    def send(self, tenant_id: str, job_id: str, continuation: int = 0) -> None:
        self._enter("send")
        if continuation:
            self.continued.append((tenant_id, job_id, continuation))
        else:
            self.sent.append((tenant_id, job_id))

    def send_many(self, tenant_id: str, job_ids: list[str]) -> None:
        # one SendMessageBatch: a failure (`fail`) stands for the request failing, or entries still
        # refused after the queue's one resend; otherwise every message is sent
        self._enter("send_many")
        self.sent.extend((tenant_id, job_id) for job_id in job_ids)

    def return_in(self, receipt_handle: str, seconds: int) -> None:
        self.returned.append((receipt_handle, seconds))


class FakeEventPublisher(_Faults):
    """Records the `detail` of every event published, as EventBridge would carry it."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[dict[str, Any]] = []

    def job_finished(self, job: Job) -> None:
        self._enter("job_finished")
        self.published.append(json.loads(json.dumps(event_detail(job))))


class FakeResultFiles(_Faults):
    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, tuple[bytes, str]] = {}

    @staticmethod
    def key_for(tenant_id: str, job_id: str, name: str) -> str:
        return f"results/{tenant_id}/{job_id}/{name}"

    @staticmethod
    def input_key_for(tenant_id: str, job_id: str) -> str:
        return f"inputs/{tenant_id}/{job_id}/input.json"

    def put_input(self, tenant_id: str, job_id: str, input_json: str) -> str:
        self._enter("put_input")
        key = self.input_key_for(tenant_id, job_id)
        self.objects[key] = (input_json.encode(), "application/json")
        return key

    def read(self, key: str) -> bytes:
        self._enter("read")
        if key not in self.objects:
            raise InfrastructureError(f"S3 GetObject failed: no {key}")
        return self.objects[key][0]

    def put(self, tenant_id: str, job_id: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        self._enter("put")
        key = self.key_for(tenant_id, job_id, name)
        self.objects[key] = (data, content_type)
        return {
            "name": name,
            "key": key,
            "content_type": content_type,
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    def download_url(self, key: str, expires_in: int) -> str:
        return f"https://results.example/{key}?expires_in={expires_in}"


# -- webhooks --------------------------------------------------------------------------------
class FakeWebhookStore(_Faults):
    """webhooks/store.py's WebhookStore over dicts (what the Deliverer reads and writes)."""

    def __init__(self) -> None:
        super().__init__()
        self.subs: dict[tuple[str, str], Subscription] = {}
        self.deliveries: dict[tuple[str, str], Delivery] = {}

    # subscriptions
    def put_subscription(self, sub: Subscription, *, new: bool = False) -> Subscription:
        self._enter("put_subscription")
        stored = replace(sub, version=sub.version + 1)
        self.subs[(sub.tenant_id, sub.sub_id)] = stored
        return stored

    def get_subscription(self, tenant_id: str, sub_id: str) -> Subscription:
        self._enter("get_subscription")
        sub = self.subs.get((tenant_id, sub_id))
        if sub is None:
            raise NotFound(f"No webhook subscription {sub_id} for this tenant.")
        return sub

    def subscriptions(self, tenant_id: str) -> list[Subscription]:
        self._enter("subscriptions")
        return [s for (t, _), s in sorted(self.subs.items()) if t == tenant_id]

    def disable(self, sub: Subscription, reason: str, now: float) -> None:
        self._enter("disable")
        cur = self.subs.get((sub.tenant_id, sub.sub_id))
        if cur is not None:  # deleted meanwhile: it stays deleted
            self.subs[(sub.tenant_id, sub.sub_id)] = replace(
                cur, enabled=False, disabled_reason=reason, updated_at=_ms(now), version=cur.version + 1
            )

    # deliveries
    def _stored(self, d: Delivery) -> Delivery:
        current = self.deliveries.get((d.sub_id, d.delivery_id))
        if current is None:
            raise ConditionFailed("no such item")
        return current

    def _write(self, op: str, d: Delivery) -> Delivery:
        self.deliveries[(d.sub_id, d.delivery_id)] = d
        return self._leave(op, d)

    def create_delivery(self, d: Delivery) -> bool:
        self._enter("create_delivery")
        # attribute_not_exists(pk); a lost response's retry fails it, and the store, reading the
        # item back, finds exactly what it wrote: its own write
        new = replace(d, schedule_base=0, claimed_until=None)
        current = self.deliveries.get((d.sub_id, d.delivery_id))
        if current is not None:
            return current == new
        self.deliveries[(d.sub_id, d.delivery_id)] = new
        with contextlib.suppress(ConditionFailed):
            self._leave("create_delivery", None)
        return True

    def get_delivery(self, sub_id: str, delivery_id: str, now: float | None = None) -> Delivery | None:
        self._enter("get_delivery")
        d = self.deliveries.get((sub_id, delivery_id))
        if d is None or (now is not None and d.expires_at is not None and d.expires_at <= now):
            return None
        return d

    def claim(self, d: Delivery, now: float, until: float) -> Delivery:
        self._enter("claim")
        # #s = pending AND attempt_count = :n AND (no claimed_until OR claimed_until < :now)
        cur = self._stored(d)
        free = cur.claimed_until is None or cur.claimed_until < now
        if cur.status != "pending" or cur.attempt_count != d.attempt_count or not free:
            raise ConditionFailed("claim")
        return self._write("claim", replace(cur, claimed_until=_ms(until)))

    def record_attempt(
        self, d: Delivery, attempt: dict[str, Any], status: str, next_attempt_at: float | None
    ) -> Delivery:
        self._enter("record_attempt")
        cur = self._stored(d)
        if cur.attempt_count != d.attempt_count:  # attempt_count = :n
            raise ConditionFailed("record_attempt")
        recorded = replace(
            cur,
            attempts=(*cur.attempts, attempt)[-30:],
            attempt_count=cur.attempt_count + 1,
            status=status,
            claimed_until=None,
        )
        if next_attempt_at is not None:
            recorded = replace(recorded, next_attempt_at=_ms(next_attempt_at))
        return self._write("record_attempt", recorded)

    def release(self, d: Delivery) -> None:
        self._enter("release")
        cur = self._stored(d)
        if cur.attempt_count != d.attempt_count:
            raise ConditionFailed("release")
        self._write("release", replace(cur, claimed_until=None))

    def finish_without_attempt(self, d: Delivery, status: str) -> Delivery:
        self._enter("finish_without_attempt")
        cur = self._stored(d)
        if cur.status != "pending":
            raise ConditionFailed("finish_without_attempt")
        return self._write("finish_without_attempt", replace(cur, status=status, claimed_until=None))

    def restart(self, d: Delivery, now: float) -> Delivery:
        self._enter("restart")
        cur = self._stored(d)
        claimed = cur.status == "pending" and cur.claimed_until is not None and cur.claimed_until >= now
        if claimed:
            raise ConditionFailed("restart")
        return self._write(
            "restart",
            replace(
                cur,
                status="pending",
                schedule_base=cur.attempt_count,
                next_attempt_at=_ms(now),
                claimed_until=None,
            ),
        )


class FakeSQS:
    """The part of the SQS client the Deliverer calls: records each message and its delay."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send_message(self, *, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> dict[str, Any]:
        self.messages.append({"queue_url": QueueUrl, "body": json.loads(MessageBody), "delay": DelaySeconds})
        return {"MessageId": str(len(self.messages))}


@dataclass
class FakeSend:
    """Stands in for `http_post`: answers each attempt from a script (an AttemptResult, or an
    exception to raise), the last entry repeating; records what it was asked to send."""

    script: list[AttemptResult | Exception] = field(default_factory=lambda: [AttemptResult(200, 3.0)])
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, target: Target, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
        self.calls.append({"target": target, "body": body, "headers": headers, "timeout": timeout})
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer
