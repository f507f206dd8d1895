"""Runs one queued job per message, safely under SQS's at-least-once delivery.

Outcomes of `process_message`:
- returns: the message is done (job ended, or there was nothing to do) and may be deleted;
- raises: the message must come back (an infrastructure error, or another attempt holds the job).

Rules:
- A terminal job is never run again; its completion event is published again instead, so a crash
  between the terminal write and the event loses nothing (events are at least once).
- An action that raises ends the job `failed` and is not retried. It may raise
  `TransientActionError` to ask for another attempt.
- The last two receives the queue allows (`MAX_RECEIVE_COUNT` - 1 and `MAX_RECEIVE_COUNT`) do not
  run the action: they end the job `failed` with `attempts_exhausted` and announce it, insisting
  through transient errors, so no job is left `in_progress` (or unannounced) when its message
  would otherwise move to the dead-letter queue. Two receives, so one failed bookkeeping attempt
  still leaves another. Should both fail, the message reaches the dead-letter queue, where the
  reconciler (`settle_dead_letter`) ends the job the same way.
- A failed condition never means "someone else won" by itself: the SDK retries a write whose
  response was lost, and the retry fails the condition our own first try satisfied. After a failed
  condition the job is read again and what is stored decides (announce it if it ended).
- The run function sends a job's message before it stores the job. A message can therefore arrive
  first: on its first receive a missing job is looked for again a moment later, then the message
  comes back once; a job still missing after that was never stored, and the message is dropped.
- A job whose cancel was requested is never started again: if its attempt crashed, it ends
  `cancelled`.
- The item stays small: inputs and results over 64 KB live in the results bucket; a result over
  `MAX_RESULT_BYTES`, or an outcome DynamoDB refuses, fails the job at once instead of retrying.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from asyncjobs.actions.base import ActionFailed
from asyncjobs.actions.registry import get_action
from asyncjobs.aws.dynamo import ConditionFailed, InvalidWrite
from asyncjobs.errors import InfrastructureError, JobCancelled, TransientActionError, retry_transient
from asyncjobs.jobs.models import Job, JobError, JobStatus
from asyncjobs.jobs.queue import parse_message
from asyncjobs.observability import logger, metrics
from asyncjobs.services import Services

T = TypeVar("T")

# A result larger than this fails the job (`result_too_large`). Up to it, a result over
# MAX_INLINE_RESULT_BYTES is stored as a file in the results bucket and served by download URL.
MAX_RESULT_BYTES = 50 * 1024 * 1024
MAX_INLINE_RESULT_BYTES = 64 * 1024
# How long to wait before looking again for a job whose message arrived before it was stored, and
# when its message comes back if the job is still missing then (not the 30-minute visibility
# timeout: a run function whose put the SDK is retrying may still store it and answer 202).
STORE_GRACE_S = 0.5
STORE_RECHECK_S = 10
# Lambda ends an invocation at its deadline; the margin only absorbs clock differences between hosts.
LEASE_MARGIN_S = 1.0

_METRIC = {
    JobStatus.SUCCEEDED: "JobsSucceeded",
    JobStatus.FAILED: "JobsFailed",
    JobStatus.CANCELLED: "JobsCancelled",
}


class MessageRetry(Exception):
    """The message must be delivered again later: after `after_s` seconds when given, else after
    the queue's visibility timeout."""

    def __init__(self, message: str, after_s: int | None = None) -> None:
        super().__init__(message)
        self.after_s = after_s


class AttemptContext:
    """The JobContext handed to an action for one attempt."""

    def __init__(self, svc: Services, job: Job, deadline: float) -> None:
        self._svc = svc
        self._job = job
        self._deadline = deadline
        # Progress is written (and cancellation read) at most once per interval, counted from the
        # start: a job shorter than the interval costs no progress writes at all.
        self._last_write = time.monotonic()
        self._last_progress = job.progress
        self.tenant_id = job.tenant_id
        self.job_id = job.job_id
        self.path_params = dict(job.path_params)
        self.attempt = job.attempts

    def _due(self) -> bool:
        return time.monotonic() - self._last_write >= self._svc.settings.progress_interval_s

    def _refresh(self, stored: Job) -> None:
        self._last_write = time.monotonic()
        if stored.cancel_requested:
            raise JobCancelled()

    def report_progress(self, percent: float) -> None:
        value = max(0, min(99, int(percent)))  # 100 is written with the result, not before
        if value <= self._last_progress or not self._due():
            return
        try:
            stored = self._svc.store.report_progress(self._job, value)
        except ConditionFailed as exc:
            # Our lease was taken over or the job ended elsewhere: stop working on it. (A retried
            # progress write that had committed satisfies its condition again: it is idempotent.)
            raise MessageRetry("the job is no longer held by this attempt") from exc
        self._last_progress = value
        self._refresh(stored)

    def check_cancelled(self) -> None:
        if not self._due():
            return
        stored = self._svc.store.get(self._job.tenant_id, self._job.job_id)
        if stored is None:
            raise MessageRetry("the job disappeared while running")
        self._refresh(stored)

    def save_file(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        return self._svc.files.put(self._job.tenant_id, self._job.job_id, name, data, content_type)

    def remaining_seconds(self) -> float:
        return max(0.0, self._deadline - time.time())


def _announce(svc: Services, job: Job, insist: bool = False) -> None:
    _insist(lambda: svc.events.job_finished(job), insist)
    logger.info("job event published", extra={"status": job.status.value})


def _insist(call: Callable[[], T], insist: bool) -> T:
    """Runs `call`; when `insist` (the message has few deliveries left), retries transient
    failures in place first."""
    return retry_transient(call, 5 if insist else 1)


def _record(job: Job) -> None:
    metrics.add_metric(name=_METRIC[job.status], unit=MetricUnit.Count, value=1)
    if job.started_at is not None and job.finished_at is not None:
        metrics.add_metric(
            name="JobDuration", unit=MetricUnit.Milliseconds, value=(job.finished_at - job.started_at) * 1000
        )


def _reread_terminal(svc: Services, job: Job) -> Job | None:
    current = svc.store.get(job.tenant_id, job.job_id)
    return current if current is not None and current.status.terminal else None


def _find(svc: Services, tenant_id: str, job_id: str, receive_count: int, insist: bool) -> Job | None:
    job = _insist(lambda: svc.store.get(tenant_id, job_id), insist)
    if job is None and receive_count <= 1:
        # The run function sends before it stores: the put may land a moment after the message.
        time.sleep(STORE_GRACE_S)
        job = svc.store.get(tenant_id, job_id)
        if job is None:
            raise MessageRetry("no job for this message yet; looking again soon", STORE_RECHECK_S)
    return job


def process_message(svc: Services, body: str, receive_count: int, remaining_s: float) -> None:
    try:
        tenant_id, job_id = parse_message(body)
    except ValueError:
        # Not a message this service wrote: keep it (it reaches the dead-letter queue, which alarms).
        logger.error("unreadable job message", extra={"body": body[:1000]})
        raise
    logger.append_keys(job_id=job_id, tenant_id=tenant_id, receive_count=receive_count)
    closing = receive_count >= svc.settings.max_receive_count - 1
    job = _find(svc, tenant_id, job_id, receive_count, closing)
    if job is None or job.expired(svc.clock()):
        logger.warning("no such job (never stored, or expired); message dropped")
        return
    logger.append_keys(action=job.action)
    if job.status.terminal:
        # a redelivery, or a crash between the terminal write and the event
        _announce(svc, job, insist=closing)
        return

    now = svc.clock()
    if closing or job.cancel_requested:
        _end_unfinished(svc, job, now)
        return

    lease = round(now + remaining_s + LEASE_MARGIN_S, 3)
    try:
        job = svc.store.start(job, now, lease_until=lease)
    except ConditionFailed as exc:
        current = svc.store.get(job.tenant_id, job.job_id)
        if current is not None and current.status.terminal:
            _announce(svc, current)
            return
        if current is not None and _ours(current, job, lease):
            job = current  # our own claim committed; its response was lost and the retry refused
        elif current is not None and current.cancel_requested:
            _end_unfinished(svc, current, now)
            return
        else:
            raise MessageRetry("another attempt holds the job") from exc
    logger.info("job started", extra={"attempt": job.attempts})
    _run(svc, job, deadline=time.time() + remaining_s)


def _ours(current: Job, claimed: Job, lease: float) -> bool:
    """Whether the stored claim is the one this attempt wrote (the next attempt, our lease)."""
    return (
        current.status is JobStatus.IN_PROGRESS
        and current.attempts == claimed.attempts + 1
        and current.lease_until is not None
        and abs(current.lease_until - lease) < 0.001
    )


def settle_dead_letter(svc: Services, body: str) -> None:
    """The reconciler: ends the job of a message that reached the dead-letter queue (its receives
    ran out, e.g. while DynamoDB failed or Lambda throttled the executor), or announces it again if
    it had ended. Raises while a live attempt still holds the job or AWS fails: the message stays in
    the dead-letter queue and comes back. A message no run function wrote raises ValueError: it
    stays there for the operator, and the queue's alarm fires."""
    tenant_id, job_id = parse_message(body)
    logger.append_keys(job_id=job_id, tenant_id=tenant_id)
    job = svc.store.get(tenant_id, job_id)
    if job is None or job.expired(svc.clock()):
        logger.warning("dead-lettered message for no job (never stored, or expired); dropped")
        return
    logger.append_keys(action=job.action)
    if job.status.terminal:
        _announce(svc, job)
        return
    _end_unfinished(svc, job, svc.clock())


def _end_unfinished(svc: Services, job: Job, now: float) -> None:
    """Ends a job no attempt will finish: `cancelled` if its cancel was requested, else `failed`
    with `attempts_exhausted`, and announces it. Raises MessageRetry while a live attempt holds it."""
    if job.cancel_requested:
        status, error = JobStatus.CANCELLED, None
    else:
        status = JobStatus.FAILED
        error = JobError(
            "attempts_exhausted",
            f"The job did not complete after {job.attempts} attempts and will not be retried.",
        )
    try:
        ended = _insist(lambda: svc.store.end_unfinished(job, now, status, error), True)
    except ConditionFailed as exc:
        current = _insist(lambda: svc.store.get(job.tenant_id, job.job_id), True)
        cancelled_since = current is not None and current.cancel_requested and not job.cancel_requested
        if cancelled_since and current is not None and not current.status.terminal:
            _end_unfinished(svc, current, now)  # a cancel was accepted since the job was read
            return
        if current is None or not current.status.terminal:
            raise MessageRetry("a live attempt holds the job") from exc
        ended = current  # ended elsewhere, or by our own write whose response was lost
    else:
        if status is JobStatus.CANCELLED:
            logger.info("job cancelled: its last attempt ended without finishing")
        else:
            logger.error("job abandoned: deliveries exhausted")
        _record(ended)
    _announce(svc, ended, insist=True)


def _inputs(svc: Services, job: Job) -> str:
    return svc.files.read(job.input_key).decode() if job.input_key else job.input_json


def _run(svc: Services, job: Job, deadline: float) -> None:
    action = get_action(job.action)
    ctx = AttemptContext(svc, job, deadline)
    result_json: str | None = None
    result_file: dict[str, Any] | None = None
    error: JobError | None = None
    try:
        if action is None:
            raise ActionFailed("unknown_action", f"Action {job.action!r} is no longer available.")
        inputs = action.input_model.model_validate_json(_inputs(svc, job))
        result_json = json.dumps(action.run(inputs, ctx), separators=(",", ":"), default=str)
        size = len(result_json.encode())
        if size > MAX_RESULT_BYTES:
            raise ActionFailed(
                "result_too_large",
                f"The action's result is {size} bytes; the limit is {MAX_RESULT_BYTES} bytes. "
                "Store large outputs as files.",
            )
        if size > MAX_INLINE_RESULT_BYTES:
            result_file = svc.files.put(
                job.tenant_id, job.job_id, "result.json", result_json.encode(), "application/json"
            )
            result_json = None
        status = JobStatus.SUCCEEDED
    except JobCancelled:
        status, result_json = JobStatus.CANCELLED, None
    except ActionFailed as exc:
        status, result_json = JobStatus.FAILED, None
        error = JobError(exc.code[:100], exc.message[:2000])
    except (TransientActionError, InfrastructureError, MessageRetry) as exc:
        logger.warning("attempt failed; the job will be retried", extra={"reason": str(exc)})
        _release(svc, job)
        raise
    except Exception:
        # The traceback goes to the logs (with the job id); the caller gets a safe message.
        logger.exception("action raised")
        status, result_json = JobStatus.FAILED, None
        error = JobError(
            "action_error", f"The action failed unexpectedly. Quote job {job.job_id} to support."
        )
    _finish(svc, job, status, result_json, result_file, error)


def _finish(
    svc: Services,
    job: Job,
    status: JobStatus,
    result_json: str | None,
    result_file: dict[str, Any] | None,
    error: JobError | None,
) -> None:
    try:
        try:
            ended = svc.store.finish(
                job, status, svc.clock(), result_json=result_json, result_file=result_file, error=error
            )
        except InvalidWrite:
            # DynamoDB refuses the outcome itself: retrying cannot help. End the job saying so.
            logger.exception("outcome refused by the job store")
            status = JobStatus.FAILED
            ended = svc.store.finish(
                job,
                status,
                svc.clock(),
                error=JobError("result_not_storable", "The action's outcome could not be stored."),
            )
    except InfrastructureError:
        _release(svc, job)
        raise
    except ConditionFailed:
        # Either another attempt took the job over (our lease ran out), or this very write
        # committed and the SDK's retry of it failed the condition. What is stored decides.
        current = _reread_terminal(svc, job)
        if current is None:
            raise MessageRetry("the job is no longer held by this attempt") from None
        if current.attempts == job.attempts and current.status is status:
            logger.info("job finished", extra={"status": status.value})
            _record(current)
        else:
            logger.warning("attempt lost the job before finishing; its outcome is discarded")
        _announce(svc, current)
        return
    logger.info("job finished", extra={"status": status.value})
    _record(ended)
    _announce(svc, ended)


def _release(svc: Services, job: Job) -> None:
    """Lets the next delivery start at once instead of waiting for this attempt's lease."""
    try:
        svc.store.release(job, svc.clock())
    except (ConditionFailed, InfrastructureError):
        logger.warning("lease not released; the next attempt waits for it to expire")
