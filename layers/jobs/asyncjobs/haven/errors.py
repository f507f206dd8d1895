"""Haven's error body `{"error": int, "reason": str, "detail": ...}` (plus `jobID` where a job
exists), its codes, and the HTTP status each answers with. The table is in the README; a code,
once published, keeps its meaning (callers branch on it)."""

from __future__ import annotations

from typing import Any

from asyncjobs.jobs.models import JobError

# code: (reason, HTTP status)
CODES: dict[int, tuple[str, int]] = {
    2000: ("Missing API key", 401),
    2002: ("Invalid API key", 401),
    4004: ("Unknown action", 404),
    4005: ("Unknown action version", 404),
    4006: ("Invalid job action parameter", 400),
    4008: ("Missing required parameter", 400),
    4010: ("Invalid job request", 400),
    4012: ("Request too large", 413),
    4014: ("Method not allowed", 405),
    4015: ("Unsupported request body", 415),
    4040: ("Unknown API route", 404),
    4409: ("Idempotency-Key conflict", 409),
    7001: ("Unknown job ID", 404),
    7010: ("Sync request timed out; the job continues", 202),
    7100: ("Action failed", 400),
    7101: ("Action error", 502),
    7102: ("Action cancelled", 409),
    5000: ("Service unavailable", 503),
    5001: ("Internal error", 500),
}

# Failures of the service, not of the caller's input: an action that raised unexpectedly, ran out
# of attempts, or whose outcome could not be stored. Every other action code is the action's own
# ActionFailed, which names something about the input (`unsupported_file`, `file_not_found`).
SERVICE_SIDE_ACTION_CODES = frozenset({"action_error", "attempts_exhausted", "result_not_storable"})


class HavenError(Exception):
    def __init__(
        self,
        code: int,
        detail: Any = None,
        *,
        job_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.reason, self.status = CODES[code]
        self.detail = detail
        self.job_id = job_id
        self.headers = headers or {}
        super().__init__(f"{code} {self.reason}")

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"error": self.code, "reason": self.reason}
        if self.detail is not None:
            doc["detail"] = self.detail
        if self.job_id is not None:
            doc["jobID"] = self.job_id
        return doc


def action_error(error: JobError | None, cancelled: bool = False) -> HavenError:
    """The Haven error of an action that ended `failed` (or `cancelled`)."""
    if cancelled:
        return HavenError(7102, "The job was cancelled before this action finished.")
    if error is None:  # a failed job always has an error; kept total rather than crash on a bad item
        return HavenError(7101, {"code": "unknown", "message": "The action failed."})
    code = 7101 if error.code in SERVICE_SIDE_ACTION_CODES else 7100
    return HavenError(code, {"code": error.code, "message": error.message})
