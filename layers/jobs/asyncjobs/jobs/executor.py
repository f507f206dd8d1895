"""Runs one queued job per message, safely under SQS's at-least-once delivery.

Outcomes of `process_message`:
- returns: the message is done (job ended, or there was nothing to do) and may be deleted;
- raises: the message must come back (an infrastructure error, or another attempt holds the job).

The attempt itself (the action, its outcome, the terminal write and its announcement) is
`jobs.runner`'s; this module holds what SQS adds: receives, claims, the dead-letter queue.

Rules:
- A terminal job is never run again; its completion event is published again instead, so a crash
  between the terminal write and the event loses nothing (events are at least once).
- An action that raises ends the job `failed` and is not retried. It may raise
  `TransientActionError` to ask for another attempt (the message comes back).
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
- An attempt that loses its job (`runner.AttemptLost`) gives its message back (MessageRetry).
- Continuations. An attempt that continues (`runner.run_attempt` returns the job) has already
  written the continuation (checkpoint, `continuations` + 1, lease released); it then sends the
  continuation's own message, carrying that number, to the queue of the job's runtime profile
  (its action's; for an action of a multi-action job, that action's), and its message is deleted.
  Each continuation has a new message, so its receives start over: continuing never spends the
  receives the queue allows. The message whose number is the job's `continuations` carries the
  job; only it claims, runs, or ends it (closing receives, cancel, the reconciler). An earlier
  message is superseded: it is dropped, unless the job's lease is not live, since then the
  continuation's message may never have been sent (a crash between the write and the send): it
  sends it again first, to the same profile's queue (at worst an SQS duplicate, which the claim's
  fencing absorbs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from asyncjobs.actions.profiles import DEFAULT_PROFILE
from asyncjobs.aws.dynamo import ConditionFailed
from asyncjobs.errors import InfrastructureError, retry_transient
from asyncjobs.jobs import multi, runner
from asyncjobs.jobs.models import Job, JobError, JobStatus
from asyncjobs.jobs.queue import JobQueue, parse_continuation, parse_message
from asyncjobs.jobs.runner import INSIST_TRIES, AttemptLost, announce, record, run_attempt
from asyncjobs.observability import logger
from asyncjobs.services import Services

T = TypeVar("T")

# How long to wait before looking again for a job whose message arrived before it was stored, and
# when its message comes back if the job is still missing then (not the 30-minute visibility
# timeout: a run function whose put the SDK is retrying may still store it and answer 202).
STORE_GRACE_S = 0.5
STORE_RECHECK_S = 10
_GRACE_SHARES = (0.04, 0.1, 0.2, 0.3, 0.36)  # of STORE_GRACE_S: 20, 50, 100, 150, 180 ms
# Lambda ends an invocation at its deadline; the margin only absorbs clock differences between hosts.
LEASE_MARGIN_S = 1.0


class MessageRetry(Exception):
    """The message must be delivered again later: after `after_s` seconds when given, else after
    the queue's visibility timeout."""

    def __init__(self, message: str, after_s: int | None = None) -> None:
        super().__init__(message)
        self.after_s = after_s


def _insist(call: Callable[[], T], insist: bool) -> T:
    """Runs `call`; when `insist` (the message has few deliveries left), retries transient
    failures in place first."""
    return retry_transient(call, INSIST_TRIES if insist else 1)


def _find(svc: Services, tenant_id: str, job_id: str, receive_count: int, insist: bool) -> Job | None:
    job = _insist(lambda: svc.store.get(tenant_id, job_id), insist)
    if job is None and receive_count <= 1:
        # The run function sends before it stores: the put usually lands within milliseconds of
        # the message, so look again soon and a few times (a sync call waits on this), up to
        # STORE_GRACE_S in all, before giving the message back.
        for share in _GRACE_SHARES:
            time.sleep(STORE_GRACE_S * share)
            job = svc.store.get(tenant_id, job_id)
            if job is not None:
                return job
        raise MessageRetry("no job for this message yet; looking again soon", STORE_RECHECK_S)
    return job


def process_message(svc: Services, body: str, receive_count: int, remaining_s: float) -> None:
    try:
        tenant_id, job_id = parse_message(body)
        carried = parse_continuation(body)
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
        announce(svc, job, insist=closing)
        return
    if carried != job.continuations:
        _superseded(svc, job, carried, insist=closing)
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
            announce(svc, current)
            return
        if current is not None and _ours(current, job, lease):
            job = current  # our own claim committed; its response was lost and the retry refused
        elif current is not None and current.cancel_requested:
            _end_unfinished(svc, current, now)
            return
        else:
            raise MessageRetry("another attempt holds the job") from exc
    logger.info("job started", extra={"attempt": job.attempts})
    if job.parent_id is not None:
        multi.action_started(svc, job)
    try:
        continued = run_attempt(svc, job, deadline=time.time() + remaining_s)
    except AttemptLost as exc:
        raise MessageRetry(str(exc)) from exc
    if continued is not None:
        _send_continuation(svc, continued)


def _send_continuation(svc: Services, job: Job) -> None:
    """Sends the message that carries the job's latest continuation. If that fails, this message
    comes back, finds itself superseded and the lease released, and sends it then."""
    try:
        queue = _profile_queue(svc, job)
        retry_transient(lambda: queue.send(job.tenant_id, job.job_id, job.continuations), 2)
    except InfrastructureError as exc:
        raise MessageRetry("continuation message not sent; sent again later", STORE_RECHECK_S) from exc
    logger.info("continuation message sent", extra={"continuations": job.continuations})


def _profile_queue(svc: Services, job: Job) -> JobQueue:
    """The queue of the job's runtime profile (`actions.profiles`), which a continuation's message
    goes to, as the job's first message did: its action's profile (a multi-action job's actions are
    jobs of their own, each with its action). An action no longer declared continues nowhere: its
    message goes to the default profile's queue, whose executor ends it `unknown_action`."""
    action = runner.get_action(job.action)
    if action is None:
        logger.warning("action no longer declared: its message goes to the default profile's queue")
    return svc.queue_for(action.profile if action is not None else DEFAULT_PROFILE)


def _superseded(svc: Services, job: Job, carried: int, insist: bool) -> None:
    """Handles a message that does not carry the job's current continuation (see Rules)."""
    if carried > job.continuations:
        # never sent: a continuation's message is sent only after its write committed
        logger.error("message of a continuation the job does not have; dropped", extra={"carried": carried})
        return
    if job.lease_until is not None and job.lease_until >= svc.clock():
        logger.info("message superseded by a later continuation's; dropped", extra={"carried": carried})
        return
    queue = _profile_queue(svc, job)
    _insist(lambda: queue.send(job.tenant_id, job.job_id, job.continuations), insist)
    logger.warning(
        "message superseded by a later continuation's, whose message may be lost: sent again",
        extra={"carried": carried, "continuations": job.continuations},
    )


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
    carried = parse_continuation(body)
    logger.append_keys(job_id=job_id, tenant_id=tenant_id)
    job = svc.store.get(tenant_id, job_id)
    if job is None or job.expired(svc.clock()):
        logger.warning("dead-lettered message for no job (never stored, or expired); dropped")
        return
    logger.append_keys(action=job.action)
    if job.status.terminal:
        announce(svc, job)
        return
    if carried != job.continuations:
        _superseded(svc, job, carried, insist=True)
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
            f"The job did not complete after {job.tries} attempts and will not be retried.",
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
        record(ended)
    announce(svc, ended, insist=True)
