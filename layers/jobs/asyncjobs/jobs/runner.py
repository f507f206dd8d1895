"""One attempt of one claimed job: the action runs, its outcome is stored, the end is announced.

Independent of how the job was claimed (an SQS message today; an HTTP request in sync mode), so
it knows nothing of receives or messages. An attempt that no longer holds its job raises
`AttemptLost`; the caller decides what that means for its trigger.

Rules:
- An action that raises ends the job `failed` and is not retried. It may raise
  `TransientActionError` to ask for another attempt: the lease is released and the error raised.
- Every write of the attempt is fenced by the job's `attempts` counter: an attempt whose lease
  was taken over can no longer write.
- A failed condition never means "someone else won" by itself: the SDK retries a write whose
  response was lost, and the retry fails the condition our own first try satisfied. After a failed
  condition the job is read again and what is stored decides (announce it if it ended).
- A job whose cancel was requested while it ran ends `cancelled` (the action sees JobCancelled).
- The item stays small: inputs and results over 64 KB live in the results bucket; a result over
  `MAX_RESULT_BYTES`, or an outcome DynamoDB refuses, fails the job at once instead of retrying.
- Continuations (actions longer than an invocation): `ctx.checkpoint(state)` stores the action's
  state, fenced like progress. When it finds less than the continue margin left in the invocation
  (plus the longest time between two checkpoints so far), it raises JobContinues instead; the
  attempt then ends with one write, fenced by `attempts`, that stores the checkpoint, counts one
  more continuation and releases the lease (the job stays `in_progress`), and `run_attempt`
  returns the job so its caller triggers the next invocation, which resumes from
  `ctx.resume_state`. Continuing consumes no attempt (`Job.tries`). Past `MAX_CONTINUATIONS` the
  job fails `too_many_continuations` instead.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from asyncjobs.aws.dynamo import ConditionFailed, InvalidWrite
from asyncjobs.errors import (
    ActionFailed,
    InfrastructureError,
    JobCancelled,
    JobContinues,
    TransientActionError,
    retry_transient,
)
from asyncjobs.jobs.models import Job, JobError, JobStatus
from asyncjobs.observability import logger, metrics
from asyncjobs.services import Services

if TYPE_CHECKING:
    from asyncjobs.actions.base import Action

# A result larger than this fails the job (`result_too_large`). Up to it, a result over
# MAX_INLINE_RESULT_BYTES is stored as a file in the results bucket and served by download URL.
MAX_RESULT_BYTES = 50 * 1024 * 1024
MAX_INLINE_RESULT_BYTES = 64 * 1024
# Tries of a call that must not fail on a transient error when the caller has few chances left.
INSIST_TRIES = 5
# A checkpoint continues the job in a new invocation when less than this is left of the current
# one: CONTINUE_MARGIN_S, or CONTINUE_MARGIN_SHARE of the invocation when that is less (short
# invocations, tests), plus the longest time between two checkpoints of this attempt so far (so
# the next step, as long as the longest one, cannot be cut short by the platform).
CONTINUE_MARGIN_S = 60.0
CONTINUE_MARGIN_SHARE = 0.4
# A job that continues more often than this fails `too_many_continuations` (a buggy action must
# not loop forever): 100 continuations of a 15-minute invocation are 25 hours of work.
MAX_CONTINUATIONS = 100
# A checkpoint over MAX_INLINE_CHECKPOINT_BYTES is kept as a file in the results bucket; one over
# MAX_CHECKPOINT_BYTES fails the job (`checkpoint_too_large`).
MAX_INLINE_CHECKPOINT_BYTES = 64 * 1024
MAX_CHECKPOINT_BYTES = 10 * 1024 * 1024

_METRIC = {
    JobStatus.SUCCEEDED: "JobsSucceeded",
    JobStatus.FAILED: "JobsFailed",
    JobStatus.CANCELLED: "JobsCancelled",
}


class AttemptLost(Exception):
    """This attempt no longer holds its job (its lease was taken over, or the job ended or
    disappeared elsewhere): its work is discarded, and whoever holds the job now decides."""


class AttemptContext:
    """The JobContext handed to an action for one attempt."""

    def __init__(self, svc: Services, job: Job, deadline: float) -> None:
        self._svc = svc
        self._job = job
        self._deadline = deadline
        self._margin = min(CONTINUE_MARGIN_S, CONTINUE_MARGIN_SHARE * max(0.0, deadline - time.time()))
        self._resume_read = False
        self._resume_state: Any = None
        self._checkpoints = 0
        self._checkpointed = time.monotonic()  # the last checkpoint call (or the start)
        self._longest_step = 0.0
        # Progress is written (and cancellation read) at most once per interval, counted from the
        # start: a job shorter than the interval costs no progress writes at all.
        self._last_write = time.monotonic()
        self._last_progress = job.progress
        self.tenant_id = job.tenant_id
        self.job_id = job.job_id
        self.path_params = dict(job.path_params)
        self.attempt = job.tries
        self.continuations = job.continuations

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
            raise AttemptLost("the job is no longer held by this attempt") from exc
        self._last_progress = value
        self._refresh(stored)

    def check_cancelled(self) -> None:
        if not self._due():
            return
        stored = self._svc.store.get(self._job.tenant_id, self._job.job_id)
        if stored is None:
            raise AttemptLost("the job disappeared while running")
        self._refresh(stored)

    @property
    def resume_state(self) -> Any:
        """The last checkpoint stored before this attempt started (None: there is none)."""
        if not self._resume_read:
            if self._job.checkpoint_key:
                self._resume_state = json.loads(self._svc.files.read(self._job.checkpoint_key))
            elif self._job.checkpoint_json:
                self._resume_state = json.loads(self._job.checkpoint_json)
            self._resume_read = True
        return self._resume_state

    def checkpoint(self, state: Any, progress: float | None = None) -> None:
        value = self._last_progress
        if progress is not None:
            value = max(value, max(0, min(99, int(progress))))
        called = time.monotonic()
        self._longest_step = max(self._longest_step, called - self._checkpointed)
        self._checkpointed = called
        ending = self.remaining_seconds() < self._margin + self._longest_step
        if not ending and not self._due():
            return
        data = json.dumps(state, separators=(",", ":"))
        checkpoint_json: str | None = data
        checkpoint_key: str | None = None
        size = len(data.encode())
        if size > MAX_CHECKPOINT_BYTES:
            raise ActionFailed(
                "checkpoint_too_large",
                f"The action's checkpoint is {size} bytes; the limit is {MAX_CHECKPOINT_BYTES} bytes.",
            )
        if size > MAX_INLINE_CHECKPOINT_BYTES:
            # a name of its own per checkpoint: a stale attempt never overwrites the one stored
            self._checkpoints += 1
            name = f"checkpoint-{self._job.attempts}-{self._checkpoints}.json"
            ref = self._svc.files.put(self.tenant_id, self.job_id, name, data.encode(), "application/json")
            checkpoint_json, checkpoint_key = None, ref["key"]
        if ending:
            raise JobContinues(checkpoint_json, checkpoint_key, value)
        try:
            stored = self._svc.store.checkpoint(self._job, value, checkpoint_json, checkpoint_key)
        except ConditionFailed as exc:
            raise AttemptLost("the job is no longer held by this attempt") from exc
        self._last_progress = value
        self._refresh(stored)

    def save_file(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        return self._svc.files.put(self._job.tenant_id, self._job.job_id, name, data, content_type)

    def read_file(self, file_id: str, max_bytes: int | None = None) -> bytes:
        # Imported here, not at the top: only an action that reads a file loads the uploads module.
        from asyncjobs.jobs.files import UploadTooLarge
        from asyncjobs.jobs.ids import is_file_id
        from asyncjobs.jobs.uploads import MAX_UPLOAD_BYTES

        limit = MAX_UPLOAD_BYTES if max_bytes is None else min(max_bytes, MAX_UPLOAD_BYTES)
        # The key is under this job's tenant: another tenant's file id is simply not found.
        try:
            data = (
                self._svc.files.read_upload(self.tenant_id, file_id, limit) if is_file_id(file_id) else None
            )
        except UploadTooLarge as exc:
            raise ActionFailed(
                "file_too_large",
                f"File {file_id} is {exc.size_bytes} bytes; the limit is {limit} bytes.",
            ) from None
        if data is None:
            raise ActionFailed(
                "file_not_found", f"File {file_id} was not found for this tenant: never uploaded, or expired."
            )
        return data

    def remaining_seconds(self) -> float:
        return max(0.0, self._deadline - time.time())


def announce(svc: Services, job: Job, insist: bool = False) -> None:
    """Publishes the job's end (again: events are at least once, with the same event id). With
    `insist` (the caller has few chances left), transient failures are retried in place first.
    The end of one action of a multi-action job is recorded in its job instead (`jobs.multi`),
    which publishes the job's one event when its last action ends."""
    if job.parent_id is not None:
        from asyncjobs.jobs.multi import action_ended

        action_ended(svc, job, insist=insist)
        return
    retry_transient(lambda: svc.events.job_finished(job), INSIST_TRIES if insist else 1)
    logger.info("job event published", extra={"status": job.status.value})


def record(job: Job) -> None:
    """Counts a job's end (once, by whoever wrote it) and its duration."""
    metrics.add_metric(name=_METRIC[job.status], unit=MetricUnit.Count, value=1)
    if job.started_at is not None and job.finished_at is not None:
        metrics.add_metric(
            name="JobDuration", unit=MetricUnit.Milliseconds, value=(job.finished_at - job.started_at) * 1000
        )


def _reread_terminal(svc: Services, job: Job) -> Job | None:
    current = svc.store.get(job.tenant_id, job.job_id)
    return current if current is not None and current.status.terminal else None


def _inputs(svc: Services, job: Job) -> str:
    return svc.files.read(job.input_key).decode() if job.input_key else job.input_json


def get_action(name: str) -> Action | None:
    """The action named `name`. The registry is imported on first use: it imports every action's
    input model (pydantic), which the reconciler, also using this module, never needs."""
    from asyncjobs.actions.registry import get_action as find

    return find(name)


def run_attempt(svc: Services, job: Job, deadline: float) -> Job | None:
    """Runs the action of `job`, which this attempt has claimed (`job` as the claim stored it),
    until `deadline` (epoch seconds), then writes and announces its end. Returns the job as stored
    when it continues instead (the caller must trigger its next invocation), else None. Raises
    AttemptLost when the job is no longer held by this attempt, and TransientActionError or
    InfrastructureError (after releasing the lease) when another attempt should run it."""
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
    except JobContinues as exc:
        return _continue(svc, job, exc)
    except ActionFailed as exc:
        status, result_json = JobStatus.FAILED, None
        error = JobError(exc.code[:100], exc.message[:2000])
    except (TransientActionError, InfrastructureError, AttemptLost) as exc:
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
    return None


def _continue(svc: Services, job: Job, signal: JobContinues) -> Job | None:
    """Ends this attempt by continuing: one write stores the checkpoint, counts the continuation
    and releases the lease. Returns the job as stored; None when the job ended instead (too many
    continuations, or it had ended elsewhere)."""
    if job.continuations >= MAX_CONTINUATIONS:
        message = (
            f"The job continued {job.continuations} times without completing; "
            f"the limit is {MAX_CONTINUATIONS}."
        )
        _finish(svc, job, JobStatus.FAILED, None, None, JobError("too_many_continuations", message))
        return None
    try:
        continued = svc.store.continue_later(
            job, svc.clock(), signal.progress, signal.checkpoint_json, signal.checkpoint_key
        )
    except InfrastructureError:
        _release(svc, job)
        raise
    except ConditionFailed:
        current = svc.store.get(job.tenant_id, job.job_id)
        if current is not None and current.status.terminal:
            announce(svc, current)
            return None
        ours = (
            current is not None
            and current.status is JobStatus.IN_PROGRESS
            and current.attempts == job.attempts
            and current.continuations == job.continuations + 1
        )
        if current is None or not ours:
            raise AttemptLost("the job is no longer held by this attempt") from None
        continued = current  # our own write committed; its response was lost and the retry refused
    logger.info("job continues in a new invocation", extra={"continuations": continued.continuations})
    return continued


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
            raise AttemptLost("the job is no longer held by this attempt") from None
        if current.attempts == job.attempts and current.status is status:
            logger.info("job finished", extra={"status": status.value})
            record(current)
        else:
            logger.warning("attempt lost the job before finishing; its outcome is discarded")
        announce(svc, current)
        return
    logger.info("job finished", extra={"status": status.value})
    record(ended)
    announce(svc, ended)


def _release(svc: Services, job: Job) -> None:
    """Lets the next attempt start at once instead of waiting for this attempt's lease."""
    try:
        svc.store.release(job, svc.clock())
    except (ConditionFailed, InfrastructureError):
        logger.warning("lease not released; the next attempt waits for it to expire")
