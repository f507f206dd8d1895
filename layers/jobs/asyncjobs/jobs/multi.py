"""Multi-action jobs: one job id for several actions that run in parallel.

Each action is a job of its own (`<job id>.<index>`, with `parent_id`), with its own message,
claim, lease, fencing, retries, dead-lettering and cancel: everything the executor does for a job
it does for each action, unchanged. What this module adds is the end of the job:

- An action's end is "announced" into its job instead of onto the event bus: its index is added
  to the job's `ended_actions` set by a conditional write that succeeds once per index, so a
  redelivered or re-announced action never counts twice.
- The write that records the last action also sees every index recorded (the write returns the
  item), and ends the job with a second conditional write that only a job not yet ended passes.
  Only then is the job's one event published (again with the same event id after a crash, like
  any job's), so subscribers get one webhook delivery per job, never one per action.
- A failed condition is never taken as "someone else did it" on its own (the SDK retries writes
  whose response was lost): the job is read again and what is stored decides.
- The job's status: `failed` with `actions_failed` when an action failed (the siblings' results
  are kept: one failing action never fails another); else `cancelled` when an action was cancelled
  (the job's cancel reached it before it ended); else `succeeded`.
"""

from __future__ import annotations

import contextlib

from aws_lambda_powertools.metrics import MetricUnit

from asyncjobs.aws.dynamo import ConditionFailed
from asyncjobs.errors import InfrastructureError, retry_transient
from asyncjobs.jobs.ids import action_index
from asyncjobs.jobs.models import Job, JobError, JobStatus
from asyncjobs.observability import logger, metrics
from asyncjobs.services import Services


def _key(tenant_id: str, job_id: str) -> Job:
    """The job an action belongs to, as far as the store's keyed writes need it (its key)."""
    return Job(
        tenant_id=tenant_id, job_id=job_id, action="", status=JobStatus.QUEUED, created_at=0, expires_at=0
    )


def action_started(svc: Services, action: Job) -> None:
    """Marks the job `in_progress` when its first action (index 0) starts: best effort, since
    `GET …/jobs/{id}` derives the same from the actions as soon as any one started; only a listing
    reads this. One action writes it, not every action: the others' writes would find it done and
    fail their condition, and a failed conditional write is billed like one that succeeds (a
    10-action job would pay 10 writes for one status change). The actions' messages go out in one
    batch, so the first one usually starts first."""
    if action.attempts != 1 or action.parent_id is None or action_index(action.job_id) != 0:
        return
    parent = _key(action.tenant_id, action.parent_id)
    # ConditionFailed: another action started it first; a failed write: the job still ends right
    with contextlib.suppress(ConditionFailed, InfrastructureError):
        svc.store.mark_started(parent, svc.clock())


def job_outcome(job: Job) -> tuple[JobStatus, JobError | None]:
    """The status a multi-action job ends with, once all its actions have ended."""
    failed, cancelled = len(job.failed_actions), len(job.cancelled_actions)
    if failed:  # a real failure is never hidden behind a cancel that came after it
        also = f" and {cancelled} were cancelled" if cancelled else ""
        return JobStatus.FAILED, JobError(
            "actions_failed",
            f"{failed} of {job.actions_total} actions failed{also}; each action's outcome is in `actions`.",
        )
    if cancelled:
        return JobStatus.CANCELLED, None
    return JobStatus.SUCCEEDED, None


def action_ended(svc: Services, action: Job, *, insist: bool = False, publish: bool = True) -> Job | None:
    """Records the end of `action` (terminal, with `parent_id`) in its job; when it was the last
    action, ends the job and (with `publish`) announces it. Returns the job as stored, or None if
    it is gone (expired). Safe to call any number of times for the same action."""
    from asyncjobs.jobs.runner import INSIST_TRIES, announce, record

    assert action.parent_id is not None and action.status.terminal
    tries = INSIST_TRIES if insist else 1
    index = action_index(action.job_id)
    failed, cancelled = action.status is JobStatus.FAILED, action.status is JobStatus.CANCELLED
    key = _key(action.tenant_id, action.parent_id)
    try:
        write = lambda: svc.store.record_action_end(key, index, failed, cancelled)  # noqa: E731
        job: Job | None = retry_transient(write, tries)
    except ConditionFailed:
        # recorded before (a redelivery, or this very write whose response was lost), or no job
        job = retry_transient(lambda: svc.store.get(key.tenant_id, key.job_id), tries)
    if job is None or job.expired(svc.clock()):
        logger.warning("the action's job no longer exists", extra={"job_id": key.job_id})
        return None
    if job.status.terminal:
        if publish:
            logger.append_keys(job_id=job.job_id, action=job.action, action_job_id=action.job_id)
            announce(svc, job, insist=insist)
        return job
    if len(job.ended_actions) < job.actions_total:
        logger.info("action ended", extra={"index": index, "ended": len(job.ended_actions)})
        return job
    # From here on the log lines are about the job, not the action that happened to end last.
    logger.append_keys(job_id=job.job_id, action=job.action, action_job_id=action.job_id)
    status, error = job_outcome(job)
    current = job
    try:
        job = retry_transient(lambda: svc.store.finish_multi(current, status, svc.clock(), error), tries)
    except ConditionFailed:
        job = retry_transient(lambda: svc.store.get(key.tenant_id, key.job_id), tries)
        if job is None or not job.status.terminal:
            raise InfrastructureError("the job's end could not be written; it is retried") from None
    else:
        logger.info("job finished", extra={"status": status.value})
        record(job)
        metrics.add_metric(name="MultiActionJobsFinished", unit=MetricUnit.Count, value=1)
    if publish:
        announce(svc, job, insist=insist)
    return job
