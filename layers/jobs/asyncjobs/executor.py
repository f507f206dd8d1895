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
  still leaves another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from asyncjobs.actions import ActionFailed, get_action
from asyncjobs.dynamo import ConditionFailed
from asyncjobs.errors import InfrastructureError, JobCancelled, TransientActionError, retry_transient
from asyncjobs.models import Job, JobError, JobStatus
from asyncjobs.observability import logger, metrics
from asyncjobs.queue import parse_message
from asyncjobs.services import Services

T = TypeVar("T")

# DynamoDB items are limited to 400 KB; leave room for the rest of the job.
MAX_RESULT_BYTES = 300 * 1024
# Lambda ends an invocation at its deadline; the margin only absorbs clock differences between hosts.
LEASE_MARGIN_S = 1.0

_METRIC = {
    JobStatus.SUCCEEDED: "JobsSucceeded",
    JobStatus.FAILED: "JobsFailed",
    JobStatus.CANCELLED: "JobsCancelled",
}


class RetryLater(Exception):
    """The message must be delivered again later."""


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
            # Our lease was taken over or the job ended elsewhere: stop working on it.
            raise RetryLater("the job is no longer held by this attempt") from exc
        self._last_progress = value
        self._refresh(stored)

    def check_cancelled(self) -> None:
        if not self._due():
            return
        stored = self._svc.store.get(self._job.tenant_id, self._job.job_id)
        if stored is None:
            raise RetryLater("the job disappeared while running")
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


def process_message(svc: Services, body: str, receive_count: int, remaining_s: float) -> None:
    try:
        tenant_id, job_id = parse_message(body)
    except ValueError:
        # Not a message this service wrote: keep it (it reaches the dead-letter queue, which alarms).
        logger.error("unreadable job message", extra={"body": body[:1000]})
        raise
    logger.append_keys(job_id=job_id, tenant_id=tenant_id, receive_count=receive_count)
    closing = receive_count >= svc.settings.max_receive_count - 1
    job = _insist(lambda: svc.store.get(tenant_id, job_id), closing)
    if job is None:
        logger.warning("job not found; nothing to run")
        return
    logger.append_keys(action=job.action)
    if job.status.terminal:
        # a redelivery, or a crash between the terminal write and the event
        _announce(svc, job, insist=closing)
        return

    now = svc.clock()
    if closing:
        _abandon(svc, job, now, receive_count)
        return

    try:
        job = svc.store.start(job, now, lease_until=now + remaining_s + LEASE_MARGIN_S)
    except ConditionFailed as exc:
        ended = _reread_terminal(svc, job)
        if ended is not None:
            _announce(svc, ended)
            return
        raise RetryLater("another attempt holds the job") from exc
    logger.info("job started", extra={"attempt": job.attempts})
    _run(svc, job, deadline=time.time() + remaining_s)


def _abandon(svc: Services, job: Job, now: float, receive_count: int) -> None:
    error = JobError(
        "attempts_exhausted",
        f"The job did not complete after {job.attempts} attempts and will not be retried.",
    )
    try:
        job = _insist(lambda: svc.store.abandon(job, now, error), True)
    except ConditionFailed as exc:
        ended = _insist(lambda: _reread_terminal(svc, job), True)
        if ended is None:
            raise RetryLater("a live attempt holds the job on its last delivery") from exc
        job = ended
    else:
        logger.error("job abandoned: deliveries exhausted")
        _record(job)
    _announce(svc, job, insist=True)


def _run(svc: Services, job: Job, deadline: float) -> None:
    action = get_action(job.action)
    ctx = AttemptContext(svc, job, deadline)
    result_json: str | None = None
    error: JobError | None = None
    try:
        if action is None:
            raise ActionFailed("unknown_action", f"Action {job.action!r} is no longer available.")
        inputs = action.input_model.model_validate_json(job.input_json)
        result_json = json.dumps(action.run(inputs, ctx), separators=(",", ":"), default=str)
        if len(result_json.encode()) > MAX_RESULT_BYTES:
            raise ActionFailed("result_too_large", "The action's result exceeds 300 KB; store it as a file.")
        status = JobStatus.SUCCEEDED
    except JobCancelled:
        status = JobStatus.CANCELLED
        result_json = None
    except ActionFailed as exc:
        status, result_json, error = JobStatus.FAILED, None, JobError(exc.code, exc.message)
    except (TransientActionError, InfrastructureError, RetryLater) as exc:
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
    try:
        ended = svc.store.finish(job, status, svc.clock(), result_json=result_json, error=error)
    except InfrastructureError:
        _release(svc, job)
        raise
    except ConditionFailed:
        # Our lease ran out and another attempt took the job over; that attempt owns the outcome.
        logger.warning("attempt lost the job before finishing; its outcome is discarded")
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
