"""Multi-action jobs' state machine on in-memory fakes (see `jobs.multi`): each action runs from
its own message, the job ends once, when its last action has, with the status the rules give, and
is announced with one event id, whatever is redelivered, lost, failing or racing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from asyncjobs.actions.base import Action, ActionFailed, ActionInput, JobContext
from asyncjobs.errors import Conflict, InfrastructureError, InvalidRequest, NotFound, ServiceUnavailable
from asyncjobs.jobs import executor, multi, runner, use_cases
from asyncjobs.jobs.executor import process_message, settle_dead_letter
from asyncjobs.jobs.ids import action_index, action_job_id
from asyncjobs.jobs.models import MULTI_ACTION, Job, JobStatus, iso
from asyncjobs.jobs.queue import message_body
from asyncjobs.jobs.use_cases import ActionCall
from asyncjobs.services import Services
from asyncjobs.settings import Settings
from tests.unit.fakes import FakeClock, FakeEventPublisher, FakeJobQueue, FakeJobStore, FakeResultFiles

TENANT = "acme"
REMAINING_S = 60.0


class Probe:
    """The action under test: action `i` of a job does what `behaviours[i]` says (by default,
    returns `{"index": i}`), and each run is counted."""

    def __init__(self) -> None:
        self.runs = 0
        self.behaviours: dict[int, Callable[[JobContext], Any]] = {}

    def __call__(self, inputs: ActionInput, ctx: JobContext) -> Any:
        self.runs += 1
        index = action_index(ctx.job_id)
        return self.behaviours.get(index, lambda ctx: {"index": index})(ctx)


PROBE = Probe()
ACTION = Action("probe", "/probe", ActionInput, PROBE, "A test action.")


@pytest.fixture
def probe(monkeypatch) -> Probe:
    PROBE.runs, PROBE.behaviours = 0, {}
    monkeypatch.setattr(runner, "get_action", lambda name: ACTION if name == "probe" else None)
    monkeypatch.setattr(executor, "STORE_GRACE_S", 0.0)
    return PROBE


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


# -- helpers ---------------------------------------------------------------------------------------
def _submit(svc: Services, n: int = 3) -> str:
    return use_cases.submit_multi(svc, TENANT, [ActionCall(ACTION, {}, ActionInput())] * n).job_id


def _body(job_id: str, index: int) -> str:
    return message_body(TENANT, action_job_id(job_id, index))


def _deliver(svc: Services, job_id: str, index: int, receive_count: int = 1) -> None:
    process_message(svc, _body(job_id, index), receive_count=receive_count, remaining_s=REMAINING_S)


def _stored(svc: Services, job_id: str) -> Job:
    job = svc.store.jobs[(TENANT, job_id)]  # type: ignore[attr-defined]
    assert isinstance(job, Job)
    return job


def _action(svc: Services, job_id: str, index: int) -> Job:
    return _stored(svc, action_job_id(job_id, index))


def _events(svc: Services) -> list[dict[str, Any]]:
    return svc.events.published  # type: ignore[attr-defined, no-any-return]


def _event_ids(svc: Services) -> list[str]:
    return [e["event_id"] for e in _events(svc)]


def _ends(svc: Services) -> int:
    """How many times a job's end was written."""
    return svc.store.committed.count("finish_multi")  # type: ignore[attr-defined, no-any-return]


def _fails(index: int) -> Callable[[JobContext], Any]:
    def behaviour(ctx: JobContext) -> Any:
        raise ActionFailed("bad_input", f"action {index} refuses")

    return behaviour


# -- one message per action --------------------------------------------------------------------------
def test_all_actions_succeeding_end_the_job_succeeded_once_with_one_event(svc, probe):
    # Given a job of three actions
    job_id = _submit(svc)
    assert sorted(j for _, j in svc.queue.sent) == [action_job_id(job_id, i) for i in range(3)]

    # When the first two actions' messages are processed, the job has started but not ended
    _deliver(svc, job_id, 0)
    _deliver(svc, job_id, 1)
    job = _stored(svc, job_id)
    assert job.status is JobStatus.IN_PROGRESS and job.started_at is not None
    assert job.ended_actions == {0, 1} and _events(svc) == []

    # And when the last one is, the job succeeds, once, announced once under its own id
    _deliver(svc, job_id, 2)
    job = _stored(svc, job_id)
    assert (job.status, job.progress, job.error) == (JobStatus.SUCCEEDED, 100, None)
    assert job.finished_at is not None and _ends(svc) == 1
    assert _event_ids(svc) == [f"{job_id}.succeeded"]
    assert _events(svc)[0]["action"] == MULTI_ACTION
    assert [_action(svc, job_id, i).result for i in range(3)] == [{"index": i} for i in range(3)]
    assert probe.runs == 3


def test_one_failed_action_fails_the_job_and_keeps_its_siblings_results(svc, probe):
    # Given a job of three actions whose second one fails
    job_id = _submit(svc)
    probe.behaviours[1] = _fails(1)

    # When every action's message is processed
    for i in range(3):
        _deliver(svc, job_id, i)

    # Then the job failed `actions_failed`, saying how many, and the others' results are kept
    job = _stored(svc, job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "actions_failed" and "1 of 3" in job.error.message
    assert job.failed_actions == {1} and _ends(svc) == 1
    doc = use_cases.tree_view(svc, use_cases.view(svc, TENANT, job_id))
    assert [a["status"] for a in doc["actions"]] == ["succeeded", "failed", "succeeded"]
    assert doc["actions"][0]["result"] == {"index": 0} and doc["actions"][2]["result"] == {"index": 2}
    assert doc["actions"][1]["error"]["code"] == "bad_input"
    assert [(e["event_id"], e["error"]["code"]) for e in _events(svc)] == [
        (f"{job_id}.failed", "actions_failed")
    ]


def test_a_cancel_requested_while_an_action_runs_ends_the_job_cancelled_once(svc, probe):
    # Given a job of three actions: the first succeeds; while the second runs, the caller cancels
    job_id = _submit(svc)
    answers: list[Job] = []

    def cancel_then_report(ctx: JobContext) -> Any:
        answers.append(use_cases.cancel(svc, TENANT, job_id))
        ctx.report_progress(10)
        raise AssertionError("report_progress raises JobCancelled")

    probe.behaviours[1] = cancel_then_report
    _deliver(svc, job_id, 0)

    # When the second action's message is processed
    _deliver(svc, job_id, 1)

    # Then the cancel was accepted (the job was still running), the running action stopped
    # `cancelled`, the queued one never runs, and the job ended `cancelled`, announced once
    assert answers[0].cancel_requested and not answers[0].status.terminal
    assert [_action(svc, job_id, i).status for i in range(3)] == [
        JobStatus.SUCCEEDED,
        JobStatus.CANCELLED,
        JobStatus.CANCELLED,
    ]
    assert _stored(svc, job_id).status is JobStatus.CANCELLED and _ends(svc) == 1
    assert _event_ids(svc) == [f"{job_id}.cancelled"]

    # And the third action's message announces the same end again, running nothing
    _deliver(svc, job_id, 2)
    assert probe.runs == 2 and _event_ids(svc) == [f"{job_id}.cancelled"] * 2


def test_every_action_message_redelivered_after_the_end_changes_nothing_and_republishes_one_id(svc, probe):
    # Given a job of three actions that ended (one failed) and was announced
    job_id = _submit(svc)
    probe.behaviours[2] = _fails(2)
    for i in range(3):
        _deliver(svc, job_id, i)
    stored = dict(svc.store.jobs)
    (first,) = _events(svc)

    # When every action's message is delivered again
    for i in range(3):
        _deliver(svc, job_id, i, receive_count=2)

    # Then nothing ran or changed; the job's end is published again, the same event each time
    assert svc.store.jobs == stored and probe.runs == 3
    assert _events(svc) == [first] * 4 and first["event_id"] == f"{job_id}.failed"


# -- lost responses, transient failures, races -----------------------------------------------------
@pytest.mark.parametrize("index", [0, 2], ids=["first_action", "last_action"])
def test_a_lost_response_on_recording_an_action_end_still_ends_the_job_once(svc, probe, index):
    # Given a job of three actions, and the write recording action `index`'s end commits while its
    # response is lost (the SDK's retry then fails the condition the first try satisfied)
    job_id = _submit(svc)
    for i in range(3):
        if i == index:
            svc.store.lose_response("record_action_end")
        # When each action's message is processed
        _deliver(svc, job_id, i)

    # Then each action is counted once and the job ended once, announced once
    job = _stored(svc, job_id)
    assert job.status is JobStatus.SUCCEEDED and job.ended_actions == {0, 1, 2}
    assert _ends(svc) == 1 and _event_ids(svc) == [f"{job_id}.succeeded"]


def test_a_lost_response_on_the_jobs_end_still_announces_it_once(svc, probe):
    # Given the job's end commits while its response is lost
    job_id = _submit(svc, 2)
    svc.store.lose_response("finish_multi")

    # When both actions' messages are processed
    _deliver(svc, job_id, 0)
    _deliver(svc, job_id, 1)

    # Then what is stored decides: the job ended once, and it is announced
    assert _stored(svc, job_id).status is JobStatus.SUCCEEDED and _ends(svc) == 1
    assert _event_ids(svc) == [f"{job_id}.succeeded"]


@pytest.mark.parametrize(
    ("adapter", "op"),
    [("store", "record_action_end"), ("store", "finish_multi"), ("events", "job_finished")],
)
def test_a_transient_failure_after_the_last_action_ended_gives_its_message_back(svc, probe, adapter, op):
    # Given a job of two actions, the first ended, and `op` failing once for the last one
    job_id = _submit(svc, 2)
    _deliver(svc, job_id, 0)
    getattr(svc, adapter).fail(op)

    # When the last action's message is processed, it comes back (the error is raised)
    with pytest.raises(InfrastructureError):
        _deliver(svc, job_id, 1)
    assert _action(svc, job_id, 1).status is JobStatus.SUCCEEDED and _events(svc) == []

    # And its redelivery ends the job (if not ended yet) and announces it, without running it again
    _deliver(svc, job_id, 1, receive_count=2)
    assert _stored(svc, job_id).status is JobStatus.SUCCEEDED and _ends(svc) == 1
    assert _event_ids(svc) == [f"{job_id}.succeeded"] and probe.runs == 2


def _terminal(svc: Services, job_id: str, index: int, status: JobStatus) -> Job:
    """Action `index`'s claim and terminal write, as its attempt makes them (not recorded yet)."""
    action = _action(svc, job_id, index)
    action = svc.store.start(action, svc.clock(), lease_until=svc.clock() + 30)
    return svc.store.finish(action, status, svc.clock())  # type: ignore[no-any-return]


@pytest.mark.parametrize("order", [(1, 2), (2, 1)])
def test_the_last_two_actions_ending_together_end_the_job_once(svc, probe, order):
    # Given a job of three actions, the first ended, then the last two both written terminal
    job_id = _submit(svc)
    _deliver(svc, job_id, 0)
    ended = {
        1: _terminal(svc, job_id, 1, JobStatus.SUCCEEDED),
        2: _terminal(svc, job_id, 2, JobStatus.FAILED),
    }

    # When each records its end into the job, one after the other
    for i in order:
        multi.action_ended(svc, ended[i])

    # Then only the second record saw every action ended: the job ended once, announced once
    job = _stored(svc, job_id)
    assert (job.status, job.failed_actions) == (JobStatus.FAILED, {2})
    assert _ends(svc) == 1 and _event_ids(svc) == [f"{job_id}.failed"]


def test_two_actions_that_both_see_every_action_ended_still_end_the_job_once(svc, probe):
    # Given a job of two actions, both written terminal, whose ends are recorded concurrently:
    # - A0 records its end; the response is lost; it reads the job again ...
    # - ... after A1's record committed (its response lost too): A0 sees both ended;
    # - A0 is about to end the job when A1, reading the job after its own lost response, ends it;
    # - A0's end then fails its condition.
    job_id = _submit(svc, 2)
    a0 = _terminal(svc, job_id, 0, JobStatus.SUCCEEDED)
    a1 = _terminal(svc, job_id, 1, JobStatus.SUCCEEDED)
    store = svc.store
    real_get, real_finish = store.get, store.finish_multi
    hooks = {"get": True, "finish": True}

    def get(tenant_id: str, jid: str) -> Job | None:
        if jid == job_id and hooks.pop("get", False):
            store.record_action_end(_stored(svc, job_id), 1, False)  # A1's write, its response lost
        return real_get(tenant_id, jid)

    def finish_multi(job: Job, status: JobStatus, now: float, error: Any) -> Job:
        if hooks.pop("finish", False):
            multi.action_ended(svc, a1)  # A1 goes on: its record's retry fails, it reads, it ends
        return real_finish(job, status, now, error)

    store.get, store.finish_multi = get, finish_multi
    store.lose_response("record_action_end")

    # When A0's end is recorded
    multi.action_ended(svc, a0)

    # Then both tried to end the job; one write did; both announced it, with the same event id
    assert store.calls.count("finish_multi") == 2 and _ends(svc) == 1
    assert _stored(svc, job_id).status is JobStatus.SUCCEEDED
    assert _event_ids(svc) == [f"{job_id}.succeeded"] * 2


# -- dead letters ----------------------------------------------------------------------------------
@pytest.mark.parametrize("started", [True, False], ids=["crashed_attempt", "never_started"])
def test_a_dead_lettered_action_ends_attempts_exhausted_and_then_the_job(svc, probe, started):
    # Given a job of two actions: the first succeeded; the second's message ran out of receives
    # (after an attempt that crashed, or before any attempt started)
    job_id = _submit(svc, 2)
    _deliver(svc, job_id, 0)
    if started:
        svc.store.start(_action(svc, job_id, 1), svc.clock(), lease_until=svc.clock() + 30)
        svc.clock.advance(31)

    # When the reconciler takes it from the dead-letter queue
    settle_dead_letter(svc, _body(job_id, 1))

    # Then the action failed `attempts_exhausted`, and the job failed, once, announced once
    action = _action(svc, job_id, 1)
    assert action.status is JobStatus.FAILED and action.error is not None
    assert action.error.code == "attempts_exhausted"
    job = _stored(svc, job_id)
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == "actions_failed"
    assert _ends(svc) == 1 and _event_ids(svc) == [f"{job_id}.failed"]
    assert probe.runs == 1


# -- cancel ----------------------------------------------------------------------------------------
def test_cancelling_a_queued_job_ends_it_at_once_and_each_action_message_announces_it(svc, probe):
    # Given a job of three queued actions
    job_id = _submit(svc)

    # When the caller cancels it
    answer = use_cases.cancel(svc, TENANT, job_id)

    # Then it is cancelled at once, every action with it, and nothing is published by the call
    assert answer.status is JobStatus.CANCELLED and answer.job_id == job_id
    assert [_action(svc, job_id, i).status for i in range(3)] == [JobStatus.CANCELLED] * 3
    assert _ends(svc) == 1 and _events(svc) == []

    # And each action's message, when it arrives, runs nothing and announces the job's one end
    for i in range(3):
        _deliver(svc, job_id, i)
    assert probe.runs == 0 and _ends(svc) == 1
    assert _event_ids(svc) == [f"{job_id}.cancelled"] * 3


def test_cancelling_a_job_whose_action_runs_only_requests_it_until_the_action_stops(svc, probe):
    # Given a job of one action, claimed by an attempt that is running
    job_id = _submit(svc, 1)
    action = svc.store.start(_action(svc, job_id, 0), svc.clock(), lease_until=svc.clock() + 30)

    # When the caller cancels it, then the cancel is requested, and nothing has ended
    answer = use_cases.cancel(svc, TENANT, job_id)
    assert answer.cancel_requested and not answer.status.terminal
    running = _action(svc, job_id, 0)
    assert running.status is JobStatus.IN_PROGRESS and running.cancel_requested
    assert _ends(svc) == 0 and _events(svc) == []

    # And when the attempt next reports progress, it stops: the action and the job end cancelled
    probe.behaviours[0] = lambda ctx: ctx.report_progress(10)
    runner.run_attempt(svc, action, deadline=time.time() + 30)
    assert _action(svc, job_id, 0).status is JobStatus.CANCELLED
    assert _stored(svc, job_id).status is JobStatus.CANCELLED
    assert _event_ids(svc) == [f"{job_id}.cancelled"]


@pytest.mark.parametrize("failing", [None, 1], ids=["succeeded", "failed"])
def test_cancelling_a_job_that_has_ended_is_a_conflict(svc, probe, failing):
    # Given a job of two actions that ended (succeeded, or failed)
    job_id = _submit(svc, 2)
    if failing is not None:
        probe.behaviours[failing] = _fails(failing)
    _deliver(svc, job_id, 0)
    _deliver(svc, job_id, 1)
    stored = dict(svc.store.jobs)

    # When the caller cancels it, then it is a conflict, and nothing changes
    with pytest.raises(Conflict):
        use_cases.cancel(svc, TENANT, job_id)
    assert svc.store.jobs == stored


@pytest.mark.parametrize("running", [False, True], ids=["queued", "running"])
def test_cancelling_a_job_again_answers_the_same_and_writes_nothing(svc, probe, running):
    # Given a job of two actions, cancelled once (the first action running, or both queued)
    job_id = _submit(svc, 2)
    if running:
        svc.store.start(_action(svc, job_id, 0), svc.clock(), lease_until=svc.clock() + 30)
    first = use_cases.cancel(svc, TENANT, job_id)
    writes = list(svc.store.committed)

    # When the caller cancels it again, then the answer is the same, and nothing is written
    assert use_cases.cancel(svc, TENANT, job_id) == first
    assert svc.store.committed == writes
    assert first.status is (JobStatus.QUEUED if running else JobStatus.CANCELLED)


def test_a_cancel_whose_request_write_lost_its_response_still_cancels(svc, probe):
    # Given the write requesting the job's cancel commits while its response is lost
    job_id = _submit(svc, 2)
    svc.store.lose_response("request_cancel_multi")

    # When the caller cancels the job, then it is cancelled at once all the same
    assert use_cases.cancel(svc, TENANT, job_id).status is JobStatus.CANCELLED


def test_a_cancel_cut_short_before_its_last_action_is_completed_by_its_retry(svc, probe):
    # Given a job of two queued actions, whose cancel fails on the second action
    job_id = _submit(svc, 2)
    real = svc.store.cancel_queued
    failing = {action_job_id(job_id, 1)}

    def cancel_queued(job: Job, now: float) -> Job:
        if job.job_id in failing:
            failing.remove(job.job_id)
            raise InfrastructureError("throttled")
        return real(job, now)  # type: ignore[no-any-return]

    svc.store.cancel_queued = cancel_queued
    with pytest.raises(ServiceUnavailable):
        use_cases.cancel(svc, TENANT, job_id)
    assert [_action(svc, job_id, i).status for i in range(2)] == [JobStatus.CANCELLED, JobStatus.QUEUED]

    # When the caller retries, then the job is cancelled at once
    assert use_cases.cancel(svc, TENANT, job_id).status is JobStatus.CANCELLED
    assert _ends(svc) == 1 and _events(svc) == []


def _cancel_failing_to_record(svc: Services, job_id: str, index: int) -> None:
    """A cancel of a queued job whose record of action `index`'s end fails (after the action was
    cancelled): the caller is told the service is unavailable."""
    real = svc.store.record_action_end
    failing = {index}

    def record_action_end(job: Job, i: int, failed: bool, cancelled: bool = False) -> Job:
        if i in failing:
            failing.remove(i)
            raise InfrastructureError("throttled")
        return real(job, i, failed, cancelled)  # type: ignore[no-any-return]

    svc.store.record_action_end = record_action_end
    with pytest.raises(ServiceUnavailable):
        use_cases.cancel(svc, TENANT, job_id)
    assert _action(svc, job_id, index).status is JobStatus.CANCELLED
    assert index not in _stored(svc, job_id).ended_actions


@pytest.mark.parametrize("index", [0, 1], ids=["first_action", "last_action"])
def test_a_cancel_cut_short_after_cancelling_an_action_is_completed_by_its_retry(svc, probe, index):
    # Given a job of two queued actions, whose cancel failed recording action `index`'s end
    job_id = _submit(svc, 2)
    _cancel_failing_to_record(svc, job_id, index)

    # When the caller retries, then the job is cancelled at once, as for any cancel of queued actions
    assert use_cases.cancel(svc, TENANT, job_id).status is JobStatus.CANCELLED


def test_a_cancel_cut_short_after_cancelling_an_action_is_completed_by_the_actions_message(svc, probe):
    # Given a job of two queued actions, whose cancel failed recording the last action's end
    job_id = _submit(svc, 2)
    _cancel_failing_to_record(svc, job_id, 1)
    assert not _stored(svc, job_id).status.terminal

    # When the actions' messages arrive, then nothing runs, and the job ends cancelled, announced
    _deliver(svc, job_id, 1)
    _deliver(svc, job_id, 0)
    assert probe.runs == 0 and _stored(svc, job_id).status is JobStatus.CANCELLED
    assert _ends(svc) == 1 and _event_ids(svc) == [f"{job_id}.cancelled"] * 2


# -- submit ----------------------------------------------------------------------------------------
def test_a_job_whose_messages_cannot_be_sent_is_refused_and_nothing_is_stored(svc, probe):
    svc.queue.fail("send_many")
    with pytest.raises(ServiceUnavailable):
        _submit(svc)
    assert svc.store.jobs == {} and svc.queue.sent == []


def test_a_store_timeout_after_the_job_committed_still_accepts_it(svc, probe):
    # Given the transaction storing the job commits, then the call fails (a timeout)
    svc.store.lose_response("create_multi", InfrastructureError("timed out"))

    # When the job is submitted, then it is accepted (the job is there), and it runs to its end
    job_id = _submit(svc, 2)
    assert _stored(svc, job_id).status is JobStatus.QUEUED
    for i in range(2):
        _deliver(svc, job_id, i)
    assert _stored(svc, job_id).status is JobStatus.SUCCEEDED
    assert _event_ids(svc) == [f"{job_id}.succeeded"]


def test_a_job_the_store_failed_to_store_is_voided_refused_and_never_runs(svc, probe):
    # Given the transaction storing the job fails without committing
    svc.store.fail("create_multi")
    tried: list[tuple[Job, list[Job]]] = []
    real = svc.store.create_multi

    def create_multi(job: Job, actions: list[Job]) -> None:
        tried.append((job, actions))
        real(job, actions)

    svc.store.create_multi = create_multi

    # When the job is submitted, then it is refused
    with pytest.raises(ServiceUnavailable):
        _submit(svc, 2)
    ((job, actions),) = tried

    # And its id is voided: unknown to readers, and the transaction landing late stores nothing
    with pytest.raises(NotFound):
        use_cases.view(svc, TENANT, job.job_id)
    real(job, actions)
    assert [a.job_id for a in actions if (TENANT, a.job_id) in svc.store.jobs] == []

    # So the messages already sent find no action, run nothing, and are dropped
    for i in range(2):
        _deliver(svc, job.job_id, i, receive_count=2)
    assert probe.runs == 0 and _events(svc) == []


@pytest.mark.parametrize("n", [0, use_cases.MAX_ACTIONS + 1])
def test_a_job_of_no_actions_or_too_many_is_invalid(svc, probe, n):
    with pytest.raises(InvalidRequest):
        _submit(svc, n)
    assert svc.queue.sent == [] and svc.store.jobs == {}


def test_a_job_of_the_most_actions_allowed_is_accepted_with_one_message_each(svc, probe):
    job_id = _submit(svc, use_cases.MAX_ACTIONS)
    assert len(svc.queue.sent) == use_cases.MAX_ACTIONS
    assert _stored(svc, job_id).actions_total == use_cases.MAX_ACTIONS


def test_only_the_first_action_marks_the_job_started_so_a_job_pays_one_write_for_it(svc, probe):
    # Given a job of three actions whose last two actions run first, then its first
    job_id = _submit(svc)
    store = svc.store

    # When actions 1 and 2 run, the job's own item is not written for their start
    _deliver(svc, job_id, 2)
    _deliver(svc, job_id, 1)
    assert store.calls.count("mark_started") == 0  # type: ignore[attr-defined]
    assert _stored(svc, job_id).status is JobStatus.QUEUED
    # (its reads derive in_progress from the actions meanwhile)
    assert use_cases.view(svc, TENANT, job_id).status is JobStatus.IN_PROGRESS

    # And when action 0 starts, one write marks it, and the job still ends once
    _deliver(svc, job_id, 0)
    assert store.calls.count("mark_started") == 1  # type: ignore[attr-defined]
    job = _stored(svc, job_id)
    assert job.status is JobStatus.SUCCEEDED and job.started_at is not None


# -- reads -----------------------------------------------------------------------------------------
def test_a_queued_job_with_a_started_action_reads_in_progress_with_the_mean_progress(svc, probe):
    # Given a job of three actions: the first running at 50 %, the second ended, the third queued,
    # while the job's own item still says `queued` (marking it started is best effort)
    job_id = _submit(svc)
    first = svc.store.start(_action(svc, job_id, 0), svc.clock(), lease_until=svc.clock() + 30)
    svc.store.report_progress(first, 50)
    _terminal(svc, job_id, 1, JobStatus.FAILED)
    assert _stored(svc, job_id).status is JobStatus.QUEUED

    # When it is read
    tree = use_cases.view(svc, TENANT, job_id)
    doc = use_cases.tree_view(svc, tree)

    # Then it is in progress since its first action started, its progress the actions' mean
    assert tree.status is JobStatus.IN_PROGRESS and doc["status"] == "in_progress"
    assert doc["progress"] == (50 + 100 + 0) // 3
    assert doc["started_at"] == iso(first.started_at)
    assert [(a["index"], a["status"], a["progress"]) for a in doc["actions"]] == [
        (0, "in_progress", 50),
        (1, "failed", 0),
        (2, "queued", 0),
    ]
    assert "job_id" not in doc["actions"][0]


def test_a_job_no_action_of_which_started_reads_queued(svc, probe):
    job_id = _submit(svc, 2)
    tree = use_cases.view(svc, TENANT, job_id)
    assert tree.status is JobStatus.QUEUED
    assert [a.job_id for a in tree.actions] == [action_job_id(job_id, i) for i in range(2)]
    doc = use_cases.tree_view(svc, tree)
    assert (doc["status"], doc["progress"], doc["started_at"]) == ("queued", 0, None)


def test_a_listing_shows_the_job_not_its_actions(svc, probe):
    job_id = _submit(svc, 2)
    svc.clock.advance(1)
    single = use_cases.submit(svc, TENANT, ACTION, {}, ActionInput()).job_id
    page = use_cases.list_jobs(svc, TENANT, action=None, status=None, limit=25, cursor=None)
    assert [j.job_id for j in page.jobs] == [single, job_id] and page.cursor is None
    page = use_cases.list_jobs(svc, TENANT, action=MULTI_ACTION, status=None, limit=25, cursor=None)
    assert [j.job_id for j in page.jobs] == [job_id]


def test_waiting_on_an_ended_job_returns_it_at_once(svc, probe):
    job_id = _submit(svc, 2)
    for i in range(2):
        _deliver(svc, job_id, i)
    started = time.monotonic()
    tree = use_cases.wait(svc, TENANT, job_id, timeout_s=5)
    assert time.monotonic() - started < 0.05
    assert tree.status is JobStatus.SUCCEEDED and len(tree.actions) == 2


def test_waiting_on_a_job_that_does_not_end_returns_it_as_it_is_after_the_timeout(svc, probe):
    job_id = _submit(svc, 2)
    _deliver(svc, job_id, 0)
    started = time.monotonic()
    tree = use_cases.wait(svc, TENANT, job_id, timeout_s=0.2)
    waited = time.monotonic() - started
    assert 0.2 <= waited < 0.5
    assert tree.status is JobStatus.IN_PROGRESS
    assert [a.status for a in tree.actions] == [JobStatus.SUCCEEDED, JobStatus.QUEUED]


def test_waiting_on_a_job_returns_as_soon_as_it_ends(svc, probe):
    # Given a job whose last action ends while the caller waits (after the job's second read)
    job_id = _submit(svc, 1)
    real_get = svc.store.get
    reads = {"n": 0}

    def get(tenant_id: str, jid: str) -> Job | None:
        if jid == job_id:
            reads["n"] += 1
            if reads["n"] == 2:
                _deliver(svc, job_id, 0)
        return real_get(tenant_id, jid)

    svc.store.get = get
    started = time.monotonic()
    tree = use_cases.wait(svc, TENANT, job_id, timeout_s=5)
    assert time.monotonic() - started < 0.3
    assert tree.status is JobStatus.SUCCEEDED and tree.actions[0].result == {"index": 0}


def test_a_jobs_progress_never_goes_back_when_it_ends_failed(svc, probe):
    # Given a job of three actions, two ended, the last failing
    job_id = _submit(svc)
    probe.behaviours[2] = _fails(2)
    _deliver(svc, job_id, 0)
    _deliver(svc, job_id, 1)
    before = use_cases.tree_view(svc, use_cases.view(svc, TENANT, job_id))["progress"]
    assert before == (100 + 100 + 0) // 3

    # When the last action ends (failed), then the job's progress has not gone back
    _deliver(svc, job_id, 2)
    doc = use_cases.tree_view(svc, use_cases.view(svc, TENANT, job_id))
    assert doc["status"] == "failed" and doc["progress"] >= before


def test_a_job_none_of_whose_actions_started_does_not_read_in_progress(svc, probe):
    # Given a job of two queued actions, the first dead-lettered before any attempt started
    job_id = _submit(svc, 2)
    settle_dead_letter(svc, _body(job_id, 0))
    assert _action(svc, job_id, 0).started_at is None

    # When it is read, then it reads as not started: queued, without a start time
    doc = use_cases.tree_view(svc, use_cases.view(svc, TENANT, job_id))
    assert (doc["status"], doc["started_at"]) == ("queued", None)


def test_a_failure_is_not_hidden_by_a_cancel_that_came_after_it(svc, probe):
    # Given a job whose first action failed while the second still waits in the queue
    job_id = _submit(svc, 2)
    probe.behaviours[0] = _fails(0)
    _deliver(svc, job_id, 0)

    # When the caller cancels the job (the queued action ends cancelled, which ends the job)
    use_cases.cancel(svc, TENANT, job_id)

    # Then the job reads failed, naming the failure and the cancel, not just cancelled
    job = _stored(svc, job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert (
        job.error.code == "actions_failed"
        and "1 of 2 actions failed and 1 were cancelled" in job.error.message
    )
    assert (job.failed_actions, job.cancelled_actions) == ({0}, {1})


def test_an_action_that_starts_while_being_cancelled_is_asked_to_stop(svc, probe):
    # Given a job whose action is claimed by the executor between the cancel's read and its write
    job_id = _submit(svc, 1)
    real_cancel_queued = svc.store.cancel_queued

    def claimed_first(action: Job, now: float) -> Job:
        svc.store.start(action, now, lease_until=now + 60)  # the executor's claim lands first
        return real_cancel_queued(action, now)

    svc.store.cancel_queued = claimed_first  # type: ignore[method-assign]

    # When the caller cancels the job
    use_cases.cancel(svc, TENANT, job_id)

    # Then the running action is asked to stop (it ends cancelled at its next progress report)
    assert _action(svc, job_id, 0).cancel_requested is True
