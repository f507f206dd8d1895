"""A controllable action for tests, demos and benchmarks: duration, progress, failures."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from asyncjobs.actions.base import ActionFailed, ActionInput, JobContext
from asyncjobs.errors import TransientActionError


class DiagnosticInput(ActionInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"duration_seconds": 2, "steps": 4}]})
    duration_seconds: float = Field(
        0.0, ge=0, le=86400, description="How long the job runs (over 840 s only with `checkpoint`)."
    )
    steps: int = Field(4, ge=1, le=100_000, description="Progress reports spread over the duration.")
    checkpoint: bool = Field(
        False,
        description="Checkpoint after every step (its index), so the job continues in a new "
        "invocation when one runs out of time and can run longer than Lambda's 15 minutes.",
    )
    fail_with: Literal["action_error", "exception"] | None = Field(
        None,
        description="`action_error`: fail with a message for the caller; `exception`: fail with "
        "an unexpected error (the caller sees a generic message).",
    )
    transient_failures: int = Field(
        0, ge=0, le=10, description="Ask for a retry on the first N attempts, then go on."
    )
    crash_on_attempts: int = Field(
        0, ge=0, le=10, description="End the process abruptly mid-job on the first N attempts (fault tests)."
    )
    echo: dict[str, Any] | None = Field(None, description="Returned as is in the result.")

    @model_validator(mode="after")
    def _fits(self) -> DiagnosticInput:
        if not self.checkpoint and self.duration_seconds > 840:
            raise ValueError("`duration_seconds` over 840 needs `checkpoint` (an invocation ends at 15 min)")
        if not self.checkpoint and self.steps > 100:
            raise ValueError("`steps` over 100 needs `checkpoint`")
        return self


def run(inputs: DiagnosticInput, ctx: JobContext) -> dict[str, Any]:
    if ctx.attempt <= inputs.transient_failures:
        raise TransientActionError(f"transient failure requested on attempt {ctx.attempt}")
    started = time.monotonic()
    if ctx.attempt <= inputs.crash_on_attempts:
        import os

        os._exit(70)  # what a segfault or an out-of-memory kill looks like from outside
    pause = inputs.duration_seconds / inputs.steps
    # resumed: the steps done before the last checkpoint are not done again
    done = int(ctx.resume_state["step"]) if inputs.checkpoint and ctx.resume_state else 0
    for step in range(done + 1, inputs.steps + 1):
        if pause:
            time.sleep(pause)
        if step < inputs.steps:
            if inputs.checkpoint:
                ctx.checkpoint({"step": step}, progress=100 * step / inputs.steps)
            else:
                ctx.report_progress(100 * step / inputs.steps)
    ctx.check_cancelled()
    if inputs.fail_with == "action_error":
        raise ActionFailed("diagnostic_failure", "The diagnostic action failed as requested.")
    if inputs.fail_with == "exception":
        # An unexpected error whose text must never reach the caller.
        raise RuntimeError("internal detail: connection string postgres://user:secret@db/prod")
    result = {
        "steps": inputs.steps,
        "attempt": ctx.attempt,
        "elapsed_seconds": round(time.monotonic() - started, 3),
        "echo": inputs.echo,
    }
    if inputs.checkpoint:
        # elapsed_seconds is then this invocation's
        result.update(continuations=ctx.continuations, resumed_at_step=done)
    return result
