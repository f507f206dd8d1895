"""Domain errors. Each carries the HTTP status and error code it answers with; the HTTP layer reads
them from the error's class (see http/errors.py), so a subclass answers as its parent does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DomainError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidRequest(DomainError):
    status = 422
    code = "invalid_request"


class ServiceUnavailable(DomainError):
    """An AWS dependency failed after retries; the caller may retry the request."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, retry_after: int | None = 5) -> None:
        super().__init__(message, retry_after)


class InfrastructureError(Exception):
    """A transient failure of our own storage, queue or bus: the executor retries the message; the
    HTTP layer answers it as a ServiceUnavailable (503)."""


class ActionFailed(Exception):
    """Raised by an action for an expected failure; `message` is shown to the caller as is.
    (Declared here, not in `actions.base`, so that code catching it, such as the executor's
    runner, need not import pydantic; actions import it from `actions.base`.)"""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransientActionError(Exception):
    """Raised by an action to ask for another attempt (e.g. an upstream API is throttling)."""


class JobCancelled(Exception):
    """Raised inside an action when the job's cancellation has been requested."""


class JobContinues(Exception):
    """Raised by `ctx.checkpoint` when this invocation's time runs low: the action stops here and
    a later invocation runs it again from the checkpoint it carries (`ctx.resume_state`). An
    action lets it propagate (catching it only delays the end of its invocation)."""

    def __init__(self, checkpoint_json: str | None, checkpoint_key: str | None, progress: int) -> None:
        super().__init__("the job continues in a later invocation")
        self.checkpoint_json = checkpoint_json
        self.checkpoint_key = checkpoint_key
        self.progress = progress


def retry_transient(call: Callable[[], T], tries: int) -> T:
    """Runs `call`, retrying InfrastructureError in place up to `tries` times (0.2 s, 0.4 s, ...
    apart). For the few places where giving the message back could cost its last delivery."""
    for n in range(tries - 1):
        try:
            return call()
        except InfrastructureError:
            time.sleep(0.2 * 2**n)
    return call()
