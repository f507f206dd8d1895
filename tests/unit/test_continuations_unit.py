"""Continuations (issue 14): an action checkpoints, runs out of invocation time, and a new message's
invocation resumes it, under every executor guarantee. On the in-memory fakes, time frozen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from asyncjobs.actions.base import Action, ActionInput, JobContext
from asyncjobs.errors import JobContinues
from asyncjobs.jobs import executor, runner
from asyncjobs.jobs.executor import MessageRetry, process_message, settle_dead_letter
from asyncjobs.jobs.models import Job, JobStatus
from asyncjobs.jobs.queue import message_body, parse_continuation
from asyncjobs.services import Services
from asyncjobs.settings import Settings
from tests.unit.fakes import FakeClock, FakeEventPublisher, FakeJobQueue, FakeJobStore, FakeResultFiles

TENANT = "acme"
JOB_ID = "01a20000-0000-7000-8000-0000000000c1"
REMAINING_S = 60.0


def body(continuation: int = 0) -> str:
    return message_body(TENANT, JOB_ID, continuation)


class Probe:
    def __init__(self) -> None:
        self.runs = 0
        self.seen: list[Any] = []
        self.attempts: list[int] = []
        self.behaviour: Callable[[JobContext], Any] = counting(3)

    def __call__(self, inputs: ActionInput, ctx: JobContext) -> Any:
        self.runs += 1
        self.seen.append(ctx.resume_state)
        self.attempts.append(ctx.attempt)
        return self.behaviour(ctx)


def counting(until: int, big: bool = False) -> Callable[[JobContext], Any]:
    """Counts one step per invocation, checkpointing it (which continues: the margin is forced)."""

    def behaviour(ctx: JobContext) -> Any:
        i = (ctx.resume_state or {"i": 0})["i"]
        if i < until:
            ctx.checkpoint({"i": i + 1, **({"pad": "x" * 70_000} if big else {})}, progress=10 * (i + 1))
        return {"i": i, "attempt": ctx.attempt, "continuations": ctx.continuations}

    return behaviour


@pytest.fixture
def probe(monkeypatch) -> Probe:
    probe = Probe()
    action = Action("probe", "/probe", ActionInput, probe, "A test action.")
    monkeypatch.setattr(runner, "get_action", lambda name: action if name == "probe" else None)
    monkeypatch.setattr(executor, "STORE_GRACE_S", 0.0)
    # every checkpoint finds the invocation's time low, so it continues
    monkeypatch.setattr(runner, "CONTINUE_MARGIN_S", 1e9)
    monkeypatch.setattr(runner, "CONTINUE_MARGIN_SHARE", 2.0)
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
    svc = Services(
        settings,
        store=FakeJobStore(),  # type: ignore[arg-type]
        queue=FakeJobQueue(),  # type: ignore[arg-type]
        queues={"science": FakeJobQueue()},  # type: ignore[dict-item]
        events=FakeEventPublisher(),  # type: ignore[arg-type]
        files=FakeResultFiles(),  # type: ignore[arg-type]
        clock=FakeClock(),
    )
    now = svc.clock()
    svc.store.create(Job(TENANT, JOB_ID, "probe", JobStatus.QUEUED, now, int(now) + 7 * 86400))
    return svc


def stored(svc: Services) -> Job:
    job = svc.store.get(TENANT, JOB_ID)
    assert job is not None
    return job


def continued(svc: Services, profile: str = "standard") -> list[int]:
    return [n for _, _, n in svc.queue_for(profile).continued]  # type: ignore[attr-defined]


def published(svc: Services) -> list[dict[str, Any]]:
    return svc.events.published  # type: ignore[attr-defined, no-any-return]


def test_a_job_continues_three_times_then_succeeds_once(svc, probe):
    progress = []
    process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    for n in (1, 2, 3):
        job = stored(svc)
        # between invocations: in progress, the lease released, the checkpoint and count stored
        assert job.status is JobStatus.IN_PROGRESS and job.continuations == n
        assert job.lease_until is not None and job.lease_until < svc.clock()
        assert continued(svc) == list(range(1, n + 1)) and published(svc) == []
        progress.append(job.progress)
        process_message(svc, body(n), receive_count=1, remaining_s=REMAINING_S)

    job = stored(svc)
    assert job.status is JobStatus.SUCCEEDED and job.progress == 100
    assert job.result == {"i": 3, "attempt": 1, "continuations": 3}  # no attempt consumed
    assert (job.attempts, job.continuations, job.tries) == (4, 3, 1)
    assert probe.seen == [None, {"i": 1}, {"i": 2}, {"i": 3}]
    assert progress == [10, 20, 30]
    assert [e["status"] for e in published(svc)] == ["succeeded"]
    assert parse_continuation(body(3)) == 3 and parse_continuation(body(0)) == 0


def test_a_superseded_message_is_dropped_while_the_job_runs(svc, probe):
    process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    # the continuation's message has claimed the job (its attempt is running)
    svc.store.start(stored(svc), svc.clock(), lease_until=svc.clock() + 30)

    # an SQS duplicate of the first message, even on a closing receive, neither runs nor ends it
    process_message(svc, body(0), receive_count=5, remaining_s=REMAINING_S)
    settle_dead_letter(svc, body(0))

    assert probe.runs == 1 and continued(svc) == [1]
    assert stored(svc).status is JobStatus.IN_PROGRESS and published(svc) == []


def test_a_lost_continuation_message_is_sent_again_by_the_superseded_one(svc, probe):
    # Given the continuation written, then its message not sent (SQS fails: a crash is the same)
    svc.queue.fail("send", times=2)
    with pytest.raises(MessageRetry):
        process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    assert stored(svc).continuations == 1 and continued(svc) == []

    # When the first message comes back (even on its last receive): it sends the continuation's
    process_message(svc, body(0), receive_count=5, remaining_s=REMAINING_S)
    assert continued(svc) == [1] and probe.runs == 1

    # Then that message carries the job to its end, with one outcome and one event
    for n in (1, 2, 3):
        process_message(svc, body(n), receive_count=1, remaining_s=REMAINING_S)
    assert stored(svc).status is JobStatus.SUCCEEDED and stored(svc).result["attempt"] == 1
    assert len(published(svc)) == 1


def test_the_reconciler_sends_a_lost_continuation_message_again(svc, probe):
    svc.queue.fail("send", times=2)
    with pytest.raises(MessageRetry):
        process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    settle_dead_letter(svc, body(0))  # the first message ran out of receives meanwhile
    assert continued(svc) == [1] and stored(svc).status is JobStatus.IN_PROGRESS


def test_a_lost_response_on_the_continuation_write_is_recognised_as_ours(svc, probe):
    svc.store.lose_response("continue_later")
    process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    assert continued(svc) == [1] and stored(svc).continuations == 1


def test_a_cancel_requested_between_invocations_ends_the_job_cancelled(svc, probe):
    process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    svc.store.request_cancel(stored(svc))

    process_message(svc, body(1), receive_count=1, remaining_s=REMAINING_S)

    job = stored(svc)
    assert job.status is JobStatus.CANCELLED and probe.runs == 1 and job.progress == 10
    assert [e["status"] for e in published(svc)] == ["cancelled"]


def test_a_crashed_continuation_is_retried_from_its_checkpoint_as_attempt_two(svc, probe):
    process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    # the continuation's first invocation crashes mid-run: its lease runs out
    svc.store.start(stored(svc), svc.clock(), lease_until=svc.clock() + 30)
    svc.clock.advance(31)

    process_message(svc, body(1), receive_count=2, remaining_s=REMAINING_S)

    # the retry resumes from the checkpoint as the job's second try; the next continuation too
    job = stored(svc)
    assert job.continuations == 2 and probe.seen[-1] == {"i": 1} and probe.attempts == [1, 2]
    # and the continuation's receives are its own: the last ones end it only if it keeps failing
    svc.store.start(job, svc.clock(), lease_until=svc.clock() + 30)
    svc.clock.advance(31)
    process_message(svc, body(2), receive_count=4, remaining_s=REMAINING_S)
    job = stored(svc)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "attempts_exhausted" and "after 2 attempts" in job.error.message
    assert len(published(svc)) == 1


def test_too_many_continuations_fail_the_job(svc, probe, monkeypatch):
    monkeypatch.setattr(runner, "MAX_CONTINUATIONS", 2)
    for n in range(3):
        process_message(svc, body(n), receive_count=1, remaining_s=REMAINING_S)
    job = stored(svc)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "too_many_continuations" and continued(svc) == [1, 2]
    assert [e["status"] for e in published(svc)] == ["failed"]


def test_a_large_checkpoint_is_kept_as_a_file_and_resumed_from(svc, probe):
    probe.behaviour = counting(1, big=True)
    process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    job = stored(svc)
    assert job.checkpoint_json is None and job.checkpoint_key is not None
    process_message(svc, body(1), receive_count=1, remaining_s=REMAINING_S)
    assert probe.seen[-1]["i"] == 1 and stored(svc).status is JobStatus.SUCCEEDED


def test_a_checkpoint_with_time_left_is_stored_and_the_attempt_goes_on(svc, probe, monkeypatch):
    monkeypatch.setattr(runner, "CONTINUE_MARGIN_S", 0.0)

    def behaviour(ctx: JobContext) -> Any:
        ctx.checkpoint({"i": 1}, progress=40)
        ctx.checkpoint({"i": 2}, progress=30)  # progress never goes back
        return stored(svc).checkpoint_json

    probe.behaviour = behaviour
    process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    job = stored(svc)
    assert job.status is JobStatus.SUCCEEDED and job.result == '{"i":2}' and job.continuations == 0
    assert svc.store.committed.count("checkpoint") == 2  # type: ignore[attr-defined]


def test_a_message_from_a_continuation_the_job_never_had_is_dropped(svc, probe):
    process_message(svc, body(5), receive_count=1, remaining_s=REMAINING_S)
    assert probe.runs == 0 and stored(svc).status is JobStatus.QUEUED


def test_job_continues_carries_the_checkpoint(svc):
    signal = JobContinues('{"i":1}', None, 10)
    assert (signal.checkpoint_json, signal.checkpoint_key, signal.progress) == ('{"i":1}', None, 10)


def test_an_action_of_a_multi_action_job_continues_and_the_job_ends_once(svc, probe):
    from asyncjobs.jobs import use_cases
    from asyncjobs.jobs.ids import action_job_id
    from asyncjobs.jobs.use_cases import ActionCall

    action = Action("probe", "/probe", ActionInput, probe, "A test action.")
    job_id = use_cases.submit_multi(svc, TENANT, [ActionCall(action, {}, ActionInput())] * 2).job_id
    first, second = (action_job_id(job_id, i) for i in range(2))
    continuing = counting(3)
    probe.behaviour = lambda ctx: continuing(ctx) if ctx.job_id == first else {"i": 0}

    # action 0 continues three times (each continuation from its own message); action 1 runs once
    process_message(svc, message_body(TENANT, second), receive_count=1, remaining_s=REMAINING_S)
    for n in range(4):
        process_message(svc, message_body(TENANT, first, n), receive_count=1, remaining_s=REMAINING_S)
        if n < 3:
            assert svc.queue.continued[-1] == (TENANT, first, n + 1)  # type: ignore[attr-defined]

    job = svc.store.get(TENANT, job_id)
    assert job is not None and job.status is JobStatus.SUCCEEDED
    done = svc.store.get(TENANT, first)
    assert done is not None and done.continuations == 3 and done.result["i"] == 3
    assert [e["event_id"] for e in published(svc)] == [f"{job_id}.succeeded"]


def test_the_margin_grows_with_the_longest_step_so_the_next_one_is_not_cut_short(svc, probe, monkeypatch):
    import time

    monkeypatch.setattr(runner, "CONTINUE_MARGIN_S", 60.0)
    monkeypatch.setattr(runner, "CONTINUE_MARGIN_SHARE", 0.4)

    def behaviour(ctx: JobContext) -> Any:
        if ctx.resume_state:
            return {"resumed": ctx.resume_state}
        time.sleep(0.4)  # a step of 0.4 s in a 1 s invocation: 0.6 s left, more than the 0.4 s
        ctx.checkpoint({"i": 1})  # margin, less than the margin and a step: continue now
        return {"resumed": None}

    probe.behaviour = behaviour
    process_message(svc, body(0), receive_count=1, remaining_s=1.0)
    assert stored(svc).continuations == 1
    process_message(svc, body(1), receive_count=1, remaining_s=1.0)
    assert stored(svc).result == {"resumed": {"i": 1}}


@pytest.fixture
def science(probe, monkeypatch) -> Probe:
    """The probe declared with the `science` runtime profile (and `standard`, as `light`)."""
    heavy = Action("probe", "/probe", ActionInput, probe, "A test action.", profile="science")
    light = Action("light", "/light", ActionInput, lambda inputs, ctx: {"light": True}, "A test action.")
    monkeypatch.setattr(runner, "get_action", {"probe": heavy, "light": light}.get)
    return probe


def test_a_science_action_continues_on_the_science_queue(svc, science):
    for n in range(4):
        process_message(svc, body(n), receive_count=1, remaining_s=REMAINING_S)
    # each continuation's message went to the science profile's queue, none to the standard one
    assert continued(svc, "science") == [1, 2, 3] and continued(svc) == []
    job = stored(svc)
    assert job.status is JobStatus.SUCCEEDED and job.result == {"i": 3, "attempt": 1, "continuations": 3}
    assert [e["status"] for e in published(svc)] == ["succeeded"]


def test_a_lost_continuation_message_of_a_science_action_is_sent_again_to_the_science_queue(svc, science):
    # Given the continuation written, its message not sent (the science queue fails)
    svc.queue_for("science").fail("send", times=2)  # type: ignore[attr-defined]
    with pytest.raises(MessageRetry):
        process_message(svc, body(0), receive_count=1, remaining_s=REMAINING_S)
    assert stored(svc).continuations == 1 and continued(svc, "science") == []
    # When the first message comes back, then is dead-lettered (the reconciler): each sends the
    # continuation's message to the science queue
    process_message(svc, body(0), receive_count=2, remaining_s=REMAINING_S)
    settle_dead_letter(svc, body(0))
    assert continued(svc, "science") == [1, 1] and continued(svc) == []
    # Then the job runs on from that message, to one outcome
    for n in (1, 2, 3):
        process_message(svc, body(n), receive_count=1, remaining_s=REMAINING_S)
    assert stored(svc).status is JobStatus.SUCCEEDED and len(published(svc)) == 1


def test_a_science_action_of_a_mixed_job_continues_on_the_science_queue(svc, science):
    from asyncjobs.jobs import use_cases
    from asyncjobs.jobs.ids import action_job_id
    from asyncjobs.jobs.use_cases import ActionCall

    heavy, light = runner.get_action("probe"), runner.get_action("light")
    assert heavy is not None and light is not None
    calls = [ActionCall(light, {}, ActionInput()), ActionCall(heavy, {}, ActionInput())]
    job_id = use_cases.submit_multi(svc, TENANT, calls).job_id
    first, second = (action_job_id(job_id, i) for i in range(2))

    process_message(svc, message_body(TENANT, first), receive_count=1, remaining_s=REMAINING_S)
    for n in range(4):
        process_message(svc, message_body(TENANT, second, n), receive_count=1, remaining_s=REMAINING_S)
    # the science action's continuations went to its own profile's queue
    assert svc.queue_for("science").continued == [(TENANT, second, n) for n in (1, 2, 3)]  # type: ignore[attr-defined]
    assert svc.queue.continued == []  # type: ignore[attr-defined]
    job = svc.store.get(TENANT, job_id)
    assert job is not None and job.status is JobStatus.SUCCEEDED
    assert [e["event_id"] for e in published(svc)] == [f"{job_id}.succeeded"]
