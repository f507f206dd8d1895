"""The executor's state machine on in-memory fakes injected through Services (no moto): what
moto and the local stack prove end to end, here one rule at a time, in milliseconds."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from asyncjobs.actions.base import Action, ActionFailed, ActionInput, JobContext
from asyncjobs.aws.dynamo import InvalidWrite
from asyncjobs.errors import TransientActionError
from asyncjobs.jobs import executor, runner
from asyncjobs.jobs.executor import MessageRetry, process_message, settle_dead_letter
from asyncjobs.jobs.models import Job, JobStatus
from asyncjobs.jobs.queue import message_body
from asyncjobs.services import Services
from asyncjobs.settings import Settings
from tests.unit.fakes import FakeClock, FakeEventPublisher, FakeJobQueue, FakeJobStore, FakeResultFiles

TENANT = "acme"
JOB_ID = "01a20000-0000-7000-8000-000000000001"
BODY = message_body(TENANT, JOB_ID)
REMAINING_S = 60.0


class Probe:
    """The action under test: does what the test sets in `behaviour`, counting its runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.behaviour: Callable[[JobContext], Any] = lambda ctx: {"ok": True}

    def __call__(self, inputs: ActionInput, ctx: JobContext) -> Any:
        self.runs += 1
        return self.behaviour(ctx)


@pytest.fixture
def probe(monkeypatch) -> Probe:
    probe = Probe()
    action = Action("probe", "/probe", ActionInput, probe, "A test action.")
    monkeypatch.setattr(runner, "get_action", lambda name: action if name == "probe" else None)
    monkeypatch.setattr(executor, "STORE_GRACE_S", 0.0)
    return probe


@pytest.fixture
def svc() -> Services:
    settings = Settings(
        resources={
            "JOBS_TABLE": "jobs",
            "JOBS_QUEUE_URL": "https://sqs.example/jobs",
            "EVENT_BUS_NAME": "bus",
            "RESULTS_BUCKET": "results",
        },
        max_receive_count=5,
        progress_interval_s=0.0,
    )
    return Services(
        settings,
        store=FakeJobStore(),  # type: ignore[arg-type]
        queue=FakeJobQueue(),  # type: ignore[arg-type]
        events=FakeEventPublisher(),  # type: ignore[arg-type]
        files=FakeResultFiles(),  # type: ignore[arg-type]
        clock=FakeClock(),
    )


def _queued(svc: Services) -> Job:
    now = svc.clock()
    svc.store.create(Job(TENANT, JOB_ID, "probe", JobStatus.QUEUED, now, int(now) + 7 * 86400))
    return _stored(svc)


def _stored(svc: Services) -> Job:
    job = svc.store.get(TENANT, JOB_ID)
    assert job is not None
    return job


def _published(svc: Services) -> list[dict[str, Any]]:
    return svc.events.published  # type: ignore[attr-defined, no-any-return]


def test_happy_path_runs_the_action_once_stores_the_result_and_announces_it(svc, probe):
    # Given a queued job whose action reports progress and returns a result
    _queued(svc)

    def behaviour(ctx: JobContext) -> Any:
        ctx.report_progress(50)
        return {"answer": 42}

    probe.behaviour = behaviour

    # When its message is received for the first time
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then the job succeeded on its first attempt, its result stored inline, and it was announced
    job = _stored(svc)
    assert (job.status, job.attempts, job.progress, job.result) == (
        JobStatus.SUCCEEDED,
        1,
        100,
        {"answer": 42},
    )
    assert probe.runs == 1
    assert [e["event_id"] for e in _published(svc)] == [f"{JOB_ID}.succeeded"]
    assert _published(svc)[0]["result"] == {"answer": 42}


@pytest.mark.parametrize(
    ("raised", "code"),
    [(ActionFailed("bad_input", "No such customer."), "bad_input"), (RuntimeError("boom"), "action_error")],
)
def test_an_action_that_raises_fails_the_job_and_is_not_retried(svc, probe, raised, code):
    # Given an action that raises (an expected failure, or a bug)
    _queued(svc)

    def behaviour(ctx: JobContext) -> Any:
        raise raised

    probe.behaviour = behaviour

    # When its message is received, the message is done with (no exception: it is not retried)
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then the job failed with the action's code, and a bug's details stay out of its message
    job = _stored(svc)
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == code
    assert "boom" not in job.error.message
    assert [e["status"] for e in _published(svc)] == ["failed"]


def test_a_transient_error_releases_the_lease_so_the_next_delivery_runs_at_once(svc, probe):
    # Given an action that asks for another attempt the first time only
    _queued(svc)

    def behaviour(ctx: JobContext) -> Any:
        if ctx.attempt == 1:
            raise TransientActionError("upstream throttled")
        return {"attempt": ctx.attempt}

    probe.behaviour = behaviour

    # When its message is received, the error is raised so the message comes back
    with pytest.raises(TransientActionError):
        process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then the lease is already over (not in REMAINING_S) and nothing was announced
    job = _stored(svc)
    assert job.status is JobStatus.IN_PROGRESS and job.lease_until is not None
    assert job.lease_until < svc.clock()
    assert _published(svc) == []

    # And the next delivery, at the same instant, runs the second attempt to the end
    process_message(svc, BODY, receive_count=2, remaining_s=REMAINING_S)
    job = _stored(svc)
    assert (job.status, job.attempts, job.result) == (JobStatus.SUCCEEDED, 2, {"attempt": 2})


def test_a_redelivered_message_of_a_finished_job_announces_it_again_with_the_same_event_id(svc, probe):
    # Given a job that succeeded and was announced
    _queued(svc)
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)
    finished = _stored(svc)

    # When its message is delivered again (a crash before its deletion, or SQS's at least once)
    process_message(svc, BODY, receive_count=2, remaining_s=REMAINING_S)

    # Then the action did not run again, the job is unchanged, and the event is the same event
    assert probe.runs == 1 and _stored(svc) == finished
    first, again = _published(svc)
    assert first == again and first["event_id"] == f"{JOB_ID}.succeeded"


@pytest.mark.parametrize("receive_count", [4, 5])
def test_the_closing_receives_end_the_job_attempts_exhausted_without_running_it(svc, probe, receive_count):
    # Given a job whose message is on one of the last two receives the queue allows (of 5)
    _queued(svc)

    # When it is received
    process_message(svc, BODY, receive_count=receive_count, remaining_s=REMAINING_S)

    # Then the action does not run: the job fails `attempts_exhausted` and is announced
    job = _stored(svc)
    assert probe.runs == 0
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "attempts_exhausted"
    assert [e["event_id"] for e in _published(svc)] == [f"{JOB_ID}.failed"]


def test_a_cancel_requested_then_a_crash_ends_the_job_cancelled(svc, probe):
    # Given a job whose attempt started, whose cancel was then requested, and whose attempt crashed
    job = _queued(svc)
    job = svc.store.start(job, svc.clock(), lease_until=svc.clock() + 30)
    svc.store.request_cancel(job)
    svc.clock.advance(31)  # the crashed attempt's lease runs out

    # When its message comes back
    process_message(svc, BODY, receive_count=2, remaining_s=REMAINING_S)

    # Then the job is not started again: it ends `cancelled`, announced
    assert probe.runs == 0
    assert _stored(svc).status is JobStatus.CANCELLED
    assert [e["status"] for e in _published(svc)] == ["cancelled"]


def test_a_cancel_requested_while_running_ends_the_job_cancelled(svc, probe):
    # Given an action that reports progress after the caller asked to cancel
    _queued(svc)

    def behaviour(ctx: JobContext) -> Any:
        svc.store.request_cancel(_stored(svc))
        ctx.report_progress(10)
        raise AssertionError("report_progress raises JobCancelled")

    probe.behaviour = behaviour

    # When the job runs
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then it ends `cancelled`, without a result
    job = _stored(svc)
    assert job.status is JobStatus.CANCELLED and job.result_json is None
    assert [e["status"] for e in _published(svc)] == ["cancelled"]


def test_a_lost_response_on_the_terminal_write_still_announces_the_job_once(svc, probe):
    # Given the terminal write commits while its response is lost (the SDK's retry then fails the
    # condition our own write satisfied)
    _queued(svc)
    svc.store.lose_response("finish")

    # When the job runs
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then what is stored decides: the job succeeded, and it is announced once
    assert _stored(svc).status is JobStatus.SUCCEEDED
    assert [e["event_id"] for e in _published(svc)] == [f"{JOB_ID}.succeeded"]


def test_a_lost_claim_response_is_recognised_as_our_own_claim(svc, probe):
    # Given the claim (queued -> in_progress) commits while its response is lost
    _queued(svc)
    svc.store.lose_response("start")

    # When the job's message is received
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then the stored claim is recognised as ours: the action runs once, on attempt 1
    job = _stored(svc)
    assert probe.runs == 1
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)


def test_a_claim_held_by_a_live_attempt_gives_the_message_back(svc, probe):
    # Given a job another attempt holds, its lease still running
    job = _queued(svc)
    svc.store.start(job, svc.clock(), lease_until=svc.clock() + 300)

    # When a duplicate of its message is received, then it comes back after the visibility timeout
    with pytest.raises(MessageRetry) as raised:
        process_message(svc, BODY, receive_count=2, remaining_s=REMAINING_S)
    assert raised.value.after_s is None and probe.runs == 0


def test_a_message_arriving_before_its_job_comes_back_in_seconds_then_is_dropped(svc, probe):
    # Given a message whose job is not stored (the run function sends before it stores)

    # When it is received the first time, then it comes back soon, not after the visibility timeout
    with pytest.raises(MessageRetry) as raised:
        process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)
    assert raised.value.after_s == executor.STORE_RECHECK_S

    # And when the job is still missing on its next receive, the message is dropped quietly
    process_message(svc, BODY, receive_count=2, remaining_s=REMAINING_S)
    assert probe.runs == 0 and _published(svc) == []


def test_a_result_over_the_inline_limit_is_stored_as_a_file(svc, probe):
    # Given an action whose result is over the 64 KB kept in the item
    _queued(svc)
    big = {"blob": "x" * runner.MAX_INLINE_RESULT_BYTES}
    probe.behaviour = lambda ctx: big

    # When the job runs
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then the result lives in the results bucket, referenced by the job, omitted from the event
    job = _stored(svc)
    assert job.status is JobStatus.SUCCEEDED and job.result_json is None and job.result_file is not None
    assert json.loads(svc.files.read(job.result_file["key"])) == big
    assert _published(svc)[0]["result_omitted"] is True


def test_a_result_over_the_product_limit_fails_the_job_at_once(svc, probe, monkeypatch):
    # Given a result larger than the product stores
    _queued(svc)
    monkeypatch.setattr(runner, "MAX_RESULT_BYTES", 1000)
    probe.behaviour = lambda ctx: {"blob": "x" * 2000}

    # When the job runs
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then it fails on its first attempt, saying why
    job = _stored(svc)
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == "result_too_large"
    assert job.attempts == 1


def test_an_outcome_the_store_refuses_fails_the_job_result_not_storable(svc, probe):
    # Given DynamoDB refuses the outcome itself (an item over 400 KB, say)
    _queued(svc)
    svc.store.fail("finish", InvalidWrite("item too large"))

    # When the job runs
    process_message(svc, BODY, receive_count=1, remaining_s=REMAINING_S)

    # Then it fails at once instead of retrying something that cannot succeed
    job = _stored(svc)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "result_not_storable"
    assert [e["status"] for e in _published(svc)] == ["failed"]


def test_the_dead_letter_reconciler_settles_a_job_its_receives_left_in_progress(svc, probe):
    # Given a job whose attempt crashed and whose message then ran out of receives
    job = _queued(svc)
    svc.store.start(job, svc.clock(), lease_until=svc.clock() + 30)
    svc.clock.advance(31)

    # When the reconciler takes its message from the dead-letter queue
    settle_dead_letter(svc, BODY)

    # Then the job fails `attempts_exhausted` and is announced; a second pass announces it again
    job = _stored(svc)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "attempts_exhausted"
    settle_dead_letter(svc, BODY)
    assert [e["event_id"] for e in _published(svc)] == [f"{JOB_ID}.failed"] * 2


def test_the_dead_letter_reconciler_leaves_a_job_a_live_attempt_holds(svc, probe):
    # Given a job whose attempt is still running (its lease not over)
    job = _queued(svc)
    svc.store.start(job, svc.clock(), lease_until=svc.clock() + 30)

    # When the reconciler takes its message, then the message stays in the dead-letter queue
    with pytest.raises(MessageRetry):
        settle_dead_letter(svc, BODY)
    assert _stored(svc).status is JobStatus.IN_PROGRESS


def test_one_attempt_runs_outside_sqs_and_says_when_it_lost_its_job(svc, probe):
    # Given a job claimed by a caller that is not the executor (sync mode), whose lease is then
    # taken over by another attempt before the action reports progress
    job = svc.store.start(_queued(svc), svc.clock(), lease_until=svc.clock() + 30)

    def behaviour(ctx: JobContext) -> Any:
        svc.clock.advance(31)
        svc.store.start(_stored(svc), svc.clock(), lease_until=svc.clock() + 30)
        ctx.report_progress(10)

    probe.behaviour = behaviour

    # When the runner runs that attempt, then it raises AttemptLost (no SQS notion) and writes nothing
    with pytest.raises(runner.AttemptLost):
        runner.run_attempt(svc, job, deadline=svc.clock() + 30)
    assert _stored(svc).attempts == 2 and _published(svc) == []
