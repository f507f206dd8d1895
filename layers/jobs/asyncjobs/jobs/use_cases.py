"""Use cases behind the HTTP API: submit, read, list and cancel jobs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from asyncjobs.aws.dynamo import ConditionFailed, InvalidWrite
from asyncjobs.errors import (
    Conflict,
    InfrastructureError,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    retry_transient,
)
from asyncjobs.jobs import multi
from asyncjobs.jobs.ids import action_job_id, is_job_id, new_job_id
from asyncjobs.jobs.models import MULTI_ACTION, Job, JobStatus, iso
from asyncjobs.jobs.store import Page
from asyncjobs.jobs.uploads import check_files
from asyncjobs.observability import logger
from asyncjobs.services import Services

if TYPE_CHECKING:  # the actions' input models import pydantic: a status read never needs it
    from asyncjobs.actions.base import Action, ActionInput

_RETRY = "Retry the request; if it keeps failing, the service is degraded."


# A job's item holds its input and result only up to these sizes; larger ones live in the results
# bucket. So an item stays far below DynamoDB's 400 KB whatever an action is given or returns.
MAX_INLINE_INPUT_BYTES = 64 * 1024


@dataclass(frozen=True)
class ActionCall:
    """One action of a job: what to run, on which resource, with which validated inputs."""

    action: Action
    path_params: dict[str, str]
    inputs: ActionInput


# Actions one multi-action job may carry: their messages go out in one SendMessageBatch (10 at
# most), and the job and its actions are stored in one transaction.
MAX_ACTIONS = 10


def _new_job(
    svc: Services, tenant_id: str, job_id: str, now: float, call: ActionCall, parent: str | None
) -> Job:
    job = Job(
        tenant_id=tenant_id,
        job_id=job_id,
        action=call.action.name,
        status=JobStatus.QUEUED,
        created_at=now,
        expires_at=int(now) + svc.settings.job_ttl_days * 86400,
        path_params=call.path_params,
        input_json=call.inputs.model_dump_json(),
        parent_id=parent,
    )
    if len(job.input_json.encode()) > MAX_INLINE_INPUT_BYTES:
        job = replace(job, input_key=svc.files.put_input(tenant_id, job.job_id, job.input_json))
    return job


def submit(
    svc: Services, tenant_id: str, action: Action, path_params: dict[str, str], inputs: ActionInput
) -> Job:
    """Sends the job's message, then stores the job.

    In that order, every stored job has a message: a job can never wait `queued` for a message that
    was never sent. A message whose job was not stored (the store failed, or the function crashed
    in between, and the caller got an error) finds no job and is dropped by the executor, so
    nothing runs that the caller was told did not start.
    """
    check_files(svc, tenant_id, inputs)
    now = svc.clock()
    job_id = new_job_id(int(now * 1000))
    logger.append_keys(job_id=job_id)
    try:
        job = _new_job(svc, tenant_id, job_id, now, ActionCall(action, path_params, inputs), None)
        svc.queue_for(action.profile).send(tenant_id, job.job_id)
    except InfrastructureError as exc:
        logger.error("job could not be queued", extra={"reason": str(exc)})
        raise ServiceUnavailable(f"The job could not be queued; nothing will run. {_RETRY}") from exc
    _store(svc, job, lambda: svc.store.create(job))
    logger.info("job queued", extra={"action": action.name})
    return job


def submit_multi(svc: Services, tenant_id: str, calls: list[ActionCall]) -> Job:
    """One job of several actions that run in parallel (see `jobs.multi`): their messages are sent,
    then the job and its actions are stored together, as `submit` does for one action."""
    if not 1 <= len(calls) <= MAX_ACTIONS:
        raise InvalidRequest(f"A job carries 1 to {MAX_ACTIONS} actions; this one has {len(calls)}.")
    for call in calls:
        check_files(svc, tenant_id, call.inputs)
    now = svc.clock()
    job_id = new_job_id(int(now * 1000))
    logger.append_keys(job_id=job_id)
    job = Job(
        tenant_id=tenant_id,
        job_id=job_id,
        action=MULTI_ACTION,
        status=JobStatus.QUEUED,
        created_at=now,
        expires_at=int(now) + svc.settings.job_ttl_days * 86400,
        actions_total=len(calls),
    )
    try:
        actions = [
            _new_job(svc, tenant_id, action_job_id(job_id, i), now, call, job_id)
            for i, call in enumerate(calls)
        ]
        _send_by_profile(svc, tenant_id, calls, actions)
    except InfrastructureError as exc:
        logger.error("job could not be queued", extra={"reason": str(exc)})
        raise ServiceUnavailable(f"The job could not be queued; nothing will run. {_RETRY}") from exc
    _store(svc, job, lambda: svc.store.create_multi(job, actions))
    logger.info("job queued", extra={"actions": [c.action.name for c in calls]})
    return job


def _send_by_profile(svc: Services, tenant_id: str, calls: list[ActionCall], actions: list[Job]) -> None:
    """Each action's message to its runtime profile's queue: one SendMessageBatch per queue. If a
    later batch fails, the messages already sent find no job and are dropped, as in `submit`."""
    by_profile: dict[str, list[str]] = {}
    for call, action in zip(calls, actions, strict=True):
        by_profile.setdefault(call.action.profile, []).append(action.job_id)
    for profile, job_ids in by_profile.items():
        svc.queue_for(profile).send_many(tenant_id, job_ids)


def _store(svc: Services, job: Job, create: Callable[[], None]) -> None:
    try:
        create()
    except InvalidWrite as exc:
        logger.error("job refused by the store", extra={"reason": str(exc)})
        raise ServiceUnavailable(f"The job could not be stored; nothing will run. {_RETRY}") from exc
    except InfrastructureError as exc:
        logger.error("job could not be stored", extra={"reason": str(exc)})
        if not _settle_unstored(svc, job):
            raise ServiceUnavailable(f"The job could not be stored; nothing will run. {_RETRY}") from exc


def _settle_unstored(svc: Services, job: Job) -> bool:
    """After a put that failed, decides whether the job exists, so the caller's answer is true.

    The failed put may have committed (a timeout after DynamoDB wrote it) or may still land (a
    request DynamoDB had not processed yet when the SDK gave up). So: True if the job is stored;
    otherwise a tombstone is put in its place with the same `attribute_not_exists` condition, which
    no late put can then pass, and False (nothing will run). If even that cannot be decided, the
    service is unavailable and the caller is told the job may exist."""
    try:
        stored = retry_transient(lambda: svc.store.get(job.tenant_id, job.job_id), 3)
        if stored is not None:
            return not stored.expired(svc.clock())
        return not retry_transient(lambda: svc.store.void(job, svc.clock()), 3)
    except InfrastructureError as exc:
        logger.error("whether the job was stored is unknown", extra={"reason": str(exc)})
        raise ServiceUnavailable(
            f"The job store is unavailable: job {job.job_id} may have been stored, and would then run. "
            f"List your jobs before running it again. {_RETRY}"
        ) from exc


def _unavailable(exc: InfrastructureError) -> ServiceUnavailable:
    logger.error("job store unavailable", extra={"reason": str(exc)})
    return ServiceUnavailable(f"The job store is unavailable. {_RETRY}")


def _read(svc: Services, job_id: str, read: Callable[[], list[Job]]) -> list[Job]:
    """What `read` returns (the job first) if the job exists and has not expired. Expiry is
    enforced here because DynamoDB deletes expired items only eventually (typically within two
    days)."""
    not_found = NotFound(f"No job {job_id} for this tenant (unknown, or expired after its 7 days).")
    if not is_job_id(job_id):
        raise not_found
    try:
        jobs = read()
    except InfrastructureError as exc:
        raise _unavailable(exc) from exc
    if not jobs or jobs[0].job_id != job_id or jobs[0].expired(svc.clock()):
        raise not_found
    return jobs


def find(svc: Services, tenant_id: str, job_id: str) -> Job:
    """The tenant's job (one GetItem), unless unknown or expired."""
    return _read(svc, job_id, lambda: [j for j in [svc.store.get(tenant_id, job_id)] if j is not None])[0]


def status(svc: Services, tenant_id: str, action: Action, path_params: dict[str, str], job_id: str) -> Job:
    """A job as seen through one action's status route: another action's (or another resource's)
    job is reported as not found, exactly like an unknown id."""
    job = find(svc, tenant_id, job_id)
    if job.action != action.name or job.path_params != path_params:
        raise NotFound(f"No {action.name} job {job_id} for this resource.")
    return job


def public_view(svc: Services, job: Job) -> dict[str, Any]:
    """The status document, with a fresh download URL for each result file."""
    doc = job.to_public()
    if job.result_file is not None and job.status is JobStatus.SUCCEEDED:
        doc["result_file"] = _with_url(svc, job.result_file)
    result = doc.get("result")
    if isinstance(result, dict) and isinstance(result.get("files"), list):
        ttl = svc.settings.download_url_ttl_s
        # The object's key is the bucket's business: a caller gets a fresh download URL instead.
        result["files"] = [
            {
                **{k: v for k, v in f.items() if k != "key"},
                "download_url": svc.files.download_url(f["key"], ttl),
            }
            if isinstance(f, dict) and "key" in f
            else f
            for f in result["files"]
        ]
    return doc


@dataclass(frozen=True)
class JobTree:
    """A job with its actions: one per action of a multi-action job, in request order, or the
    job itself for a one-action job."""

    job: Job
    actions: list[Job]

    @property
    def status(self) -> JobStatus:
        """The job's status; a multi-action job is `in_progress` as soon as one action started,
        even before its own item says so (that write is best effort)."""
        job = self.job
        started = any(a.started_at is not None for a in self.actions)
        if job.is_multi and job.status is JobStatus.QUEUED and started:
            return JobStatus.IN_PROGRESS
        return job.status


def view(svc: Services, tenant_id: str, job_id: str) -> JobTree:
    """Any job of the tenant with its actions (one Query), unless unknown or expired."""
    jobs = _read(svc, job_id, lambda: svc.store.get_tree(tenant_id, job_id))
    return JobTree(jobs[0], jobs[1:] if jobs[0].is_multi else [jobs[0]])


def tree_view(svc: Services, tree: JobTree) -> dict[str, Any]:
    """The status document of any job; a multi-action job's lists each action's own status,
    progress and result or error under `actions`."""
    doc = public_view(svc, tree.job)
    if not tree.job.is_multi:
        return doc
    doc["status"] = tree.status.value
    if tree.actions:
        # the mean over the actions, an ended one counting 100: it never goes back, even when the
        # job ends failed or cancelled (the job's own item holds progress only for a success)
        done = [100 if a.status.terminal else a.progress for a in tree.actions]
        doc["progress"] = sum(done) // len(done)
    if not tree.job.status.terminal:
        first = min((a.started_at for a in tree.actions if a.started_at), default=None)
        doc["started_at"] = doc["started_at"] or iso(first)
    hidden = ("job_id", "created_at", "expires_at")
    doc["actions"] = [
        {"index": i, **{k: v for k, v in public_view(svc, a).items() if k not in hidden}}
        for i, a in enumerate(tree.actions)
    ]
    return doc


# Sync mode and waiting status calls: how long one request may wait for a job to end. API Gateway
# ends every request at 30 s (Haven allowed 2 minutes); 25 s leaves the function time to answer.
MAX_WAIT_S = 25
# A waiting call reads the job (one strongly consistent GetItem) after each of these pauses, then
# every 0.5 s: ~5 reads in the first 1.15 s, then 2 per second. Lambda sleeps in between; no
# stream or queue is needed, and a job that ends is seen within 0.5 s.
POLL_INTERVALS_S = (0.05, 0.1, 0.2, 0.3, 0.5)


def wait(svc: Services, tenant_id: str, job_id: str, timeout_s: float, job: Job | None = None) -> JobTree:
    """The job as soon as it has ended, or after `timeout_s` (at most MAX_WAIT_S) as it is then.
    `job`: the job as the caller has just read it, which saves the first read."""
    deadline = time.monotonic() + max(0.0, min(timeout_s, MAX_WAIT_S))
    job = job or find(svc, tenant_id, job_id)
    polls = 0
    while not job.status.terminal:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(POLL_INTERVALS_S[min(polls, len(POLL_INTERVALS_S) - 1)], left))
        polls += 1
        job = find(svc, tenant_id, job_id)
    return view(svc, tenant_id, job_id) if job.is_multi else JobTree(job, [job])


def _with_url(svc: Services, file: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in file.items() if k != "key"}
    doc["download_url"] = svc.files.download_url(file["key"], svc.settings.download_url_ttl_s)
    return doc


def list_jobs(
    svc: Services,
    tenant_id: str,
    *,
    action: str | None,
    status: JobStatus | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """A page of the tenant's jobs, newest first; `action`, if given, must be a known action."""
    from asyncjobs.actions.registry import ACTIONS

    if action is not None and action not in ACTIONS and action != MULTI_ACTION:
        known = ", ".join(sorted([*ACTIONS, MULTI_ACTION]))
        raise InvalidRequest(f"query `action` must be one of: {known}.")
    try:
        return svc.store.list(
            tenant_id, now=svc.clock(), action=action, status=status, limit=limit, cursor=cursor
        )
    except InfrastructureError as exc:
        raise _unavailable(exc) from exc


def cancel(svc: Services, tenant_id: str, job_id: str) -> Job:
    """Cancels a queued job outright (it will never run) or asks a running one to stop; the action
    sees the request at its next progress report and the job then ends `cancelled`.

    Idempotent: cancelling a cancelled job answers with it. So does a cancel whose write committed
    while its response was lost (the SDK's retry then fails the condition): the job is re-read and
    what is stored is the answer."""
    for _ in range(3):
        job = find(svc, tenant_id, job_id)
        if job.is_multi:
            return _cancel_multi(svc, job)
        if job.status is JobStatus.CANCELLED or (job.cancel_requested and not job.status.terminal):
            return job
        if job.status.terminal:
            raise Conflict(f"Job {job_id} has already ended: it is {job.status.value}.")
        try:
            if job.status is JobStatus.QUEUED:
                job = svc.store.cancel_queued(job, svc.clock())
            else:
                job = svc.store.request_cancel(job)
        except ConditionFailed:
            continue  # it moved (queued -> in_progress, or ended, or our own write committed): re-read
        except InfrastructureError as exc:
            raise _unavailable(exc) from exc
        logger.append_keys(job_id=job_id)
        logger.info("job cancellation", extra={"status": job.status.value})
        return job
    raise Conflict(f"Job {job_id} changed state while being cancelled; retry the request.")


def _cancel_multi(svc: Services, job: Job) -> Job:
    """Cancels every action of a multi-action job that has not ended (queued ones at once, running
    ones at their next progress report); the job ends `cancelled` when the last has ended, unless
    every action had already succeeded. Idempotent, like a one-action cancel: each call goes over
    the actions again, so a cancel cut short by a failure is completed by its retry."""
    if job.status.terminal:
        if job.cancelled_actions:  # ended by a cancel (`failed` if an action had failed first)
            return job
        raise Conflict(f"Job {job.job_id} has already ended: it is {job.status.value}.")
    try:
        if not job.cancel_requested:
            # ConditionFailed: it ended meanwhile, or this write committed and its response was lost
            with contextlib.suppress(ConditionFailed):
                svc.store.request_cancel_multi(job)
        tree = view(svc, job.tenant_id, job.job_id)
        if tree.job.status.terminal:
            return _cancel_multi(svc, tree.job)
        for index, action in enumerate(tree.actions):
            if action.status.terminal and index not in tree.job.ended_actions:
                # ended (by an earlier cancel cut short, or by the executor) but not yet recorded
                multi.action_ended(svc, action, publish=False)
            if action.status.terminal or action.cancel_requested:
                continue
            _cancel_action(svc, action)
    except InfrastructureError as exc:
        raise _unavailable(exc) from exc
    logger.append_keys(job_id=job.job_id)
    logger.info("job cancellation", extra={"actions": len(tree.actions)})
    job = find(svc, job.tenant_id, job.job_id)
    if job.status.terminal and not job.cancelled_actions:  # every action ended before the cancel
        raise Conflict(f"Job {job.job_id} has already ended: it is {job.status.value}.")
    return job


def _cancel_action(svc: Services, action: Job) -> None:
    """Cancels one action of a multi-action job: a queued one at once (recorded in its job, so the
    job can end now; the executor announces it when the action's message arrives, as this function
    publishes no events), a running one at its next progress report. An action that started
    between the read and the write is asked to stop all the same."""
    for _ in range(3):
        try:
            if action.status is JobStatus.QUEUED:
                multi.action_ended(svc, svc.store.cancel_queued(action, svc.clock()), publish=False)
            elif action.status is JobStatus.IN_PROGRESS and not action.cancel_requested:
                svc.store.request_cancel(action)
            return
        except ConditionFailed:
            current = svc.store.get(action.tenant_id, action.job_id)
            if current is None or current.status.terminal:
                return  # it ended meanwhile: its own end is recorded by the executor
            action = current  # it started meanwhile (or our own write committed): go again
