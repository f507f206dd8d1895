"""Jobs as Haven's status body (pure functions, unit-tested):

    {"actions": [{"action", "version", "status", "result" | "error" + "errors"}], "jobID", "status"}

Status words: `queued`, `in progress`, `finished`, `failed` (a cancelled action is `failed`, with
error 7102, since Haven had no cancelled state).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from asyncjobs.haven.errors import action_error
from asyncjobs.jobs.models import Job, JobStatus

VERSION = "v1"
QUEUED, IN_PROGRESS, FINISHED, FAILED = "queued", "in progress", "finished", "failed"
WORDS = {
    JobStatus.QUEUED: QUEUED,
    JobStatus.IN_PROGRESS: IN_PROGRESS,
    JobStatus.SUCCEEDED: FINISHED,
    JobStatus.FAILED: FAILED,
    JobStatus.CANCELLED: FAILED,
}
_PROGRESS = (QUEUED, IN_PROGRESS)  # the not-ended words, least progress first


def word(status: JobStatus) -> str:
    return WORDS[status]


def job_word(job_status: JobStatus, action_words: Sequence[str]) -> str:
    """The job's word: while any action has not ended, the least advanced of theirs (one queued
    action keeps the job `queued`); once all have, `finished` if at least one finished (each
    action carries its own outcome), `failed` if all failed."""
    pending = [w for w in action_words if w in _PROGRESS]
    if pending or not job_status.terminal:
        return min(pending or [IN_PROGRESS], key=_PROGRESS.index)
    return FINISHED if FINISHED in action_words else FAILED


def action_body(job: Job, public: Callable[[Job], dict[str, Any]]) -> dict[str, Any]:
    """One action's entry; `public(job)` is its status document with fresh download URLs."""
    doc: dict[str, Any] = {"action": job.action, "version": VERSION, "status": word(job.status)}
    if job.status is JobStatus.SUCCEEDED:
        doc["result"] = result_of(public(job))
    elif job.status.terminal:
        error = action_error(job.error, cancelled=job.status is JobStatus.CANCELLED).body()
        doc["error"] = error
        # Also as a list: the public Haven client's parser reads `actions[0]["errors"]` (the
        # documented shape shows `error`), so both are sent, the same object.
        doc["errors"] = [error]
    return doc


def result_of(public_doc: dict[str, Any]) -> Any:
    """An action's result as Haven returns it: the result itself, or, when it was too large to
    keep inline, `{"result_file": {..., "download_url"}}`."""
    if "result" in public_doc:
        return public_doc["result"]
    return {"result_file": public_doc.get("result_file")}


def status_body(
    job_id: str, status: JobStatus, actions: Sequence[Job], public: Callable[[Job], dict[str, Any]]
) -> dict[str, Any]:
    """The body of /1/job/status and /1/job/result; `status` is the job's (`JobTree.status`)."""
    entries = [action_body(a, public) for a in actions]
    return {"actions": entries, "jobID": job_id, "status": job_word(status, [e["status"] for e in entries])}
