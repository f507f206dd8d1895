"""Use cases behind the HTTP API: submit, read, list and cancel jobs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from asyncjobs.actions.base import Action, ActionInput
from asyncjobs.actions.registry import ACTIONS
from asyncjobs.aws.dynamo import ConditionFailed, InvalidWrite
from asyncjobs.errors import (
    Conflict,
    InfrastructureError,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    retry_transient,
)
from asyncjobs.jobs.ids import is_job_id, new_job_id
from asyncjobs.jobs.models import Job, JobStatus
from asyncjobs.jobs.store import Page
from asyncjobs.observability import logger
from asyncjobs.services import Services

_RETRY = "Retry the request; if it keeps failing, the service is degraded."


# A job's item holds its input and result only up to these sizes; larger ones live in the results
# bucket. So an item stays far below DynamoDB's 400 KB whatever an action is given or returns.
MAX_INLINE_INPUT_BYTES = 64 * 1024


def submit(
    svc: Services, tenant_id: str, action: Action, path_params: dict[str, str], inputs: ActionInput
) -> Job:
    """Sends the job's message, then stores the job.

    In that order, every stored job has a message: a job can never wait `queued` for a message that
    was never sent. A message whose job was not stored (the store failed, or the function crashed
    in between, and the caller got an error) finds no job and is dropped by the executor, so
    nothing runs that the caller was told did not start.
    """
    now = svc.clock()
    job = Job(
        tenant_id=tenant_id,
        job_id=new_job_id(int(now * 1000)),
        action=action.name,
        status=JobStatus.QUEUED,
        created_at=now,
        expires_at=int(now) + svc.settings.job_ttl_days * 86400,
        path_params=path_params,
        input_json=inputs.model_dump_json(),
    )
    logger.append_keys(job_id=job.job_id)
    try:
        if len(job.input_json.encode()) > MAX_INLINE_INPUT_BYTES:
            job = replace(job, input_key=svc.files.put_input(tenant_id, job.job_id, job.input_json))
        svc.queue.send(tenant_id, job.job_id)
    except InfrastructureError as exc:
        logger.error("job could not be queued", extra={"reason": str(exc)})
        raise ServiceUnavailable(f"The job could not be queued; nothing will run. {_RETRY}") from exc
    try:
        svc.store.create(job)
    except InvalidWrite as exc:
        logger.error("job refused by the store", extra={"reason": str(exc)})
        raise ServiceUnavailable(f"The job could not be stored; nothing will run. {_RETRY}") from exc
    except InfrastructureError as exc:
        logger.error("job could not be stored", extra={"reason": str(exc)})
        if not _settle_unstored(svc, job):
            raise ServiceUnavailable(f"The job could not be stored; nothing will run. {_RETRY}") from exc
    logger.info("job queued", extra={"action": action.name})
    return job


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


def find(svc: Services, tenant_id: str, job_id: str) -> Job:
    """The tenant's job if it exists and has not expired. Expiry is enforced here because DynamoDB
    deletes expired items only eventually (typically within two days)."""
    not_found = NotFound(f"No job {job_id} for this tenant (unknown, or expired after its 7 days).")
    if not is_job_id(job_id):
        raise not_found
    try:
        job = svc.store.get(tenant_id, job_id)
    except InfrastructureError as exc:
        raise _unavailable(exc) from exc
    if job is None or job.expired(svc.clock()):
        raise not_found
    return job


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
        result["files"] = [
            {**f, "download_url": svc.files.download_url(f["key"], ttl)}
            if isinstance(f, dict) and "key" in f
            else f
            for f in result["files"]
        ]
    return doc


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
    if action is not None and action not in ACTIONS:
        raise InvalidRequest(f"query `action` must be one of: {', '.join(sorted(ACTIONS))}.")
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
