"""Runtime profiles on in-memory fakes: each action's message goes to its profile's queue, one batch
per queue for a job of several actions, and a message is returned to the queue it came from."""

from __future__ import annotations

from dataclasses import replace

import pytest

from asyncjobs.actions.base import Action, ActionInput
from asyncjobs.errors import ServiceUnavailable
from asyncjobs.jobs import use_cases
from asyncjobs.jobs.ids import action_job_id
from asyncjobs.jobs.use_cases import ActionCall
from asyncjobs.services import Services
from asyncjobs.settings import Settings
from tests.unit.fakes import FakeClock, FakeEventPublisher, FakeJobQueue, FakeJobStore, FakeResultFiles

TENANT = "acme"
STANDARD = Action("light", "/light", ActionInput, lambda inputs, ctx: {}, "A standard action.")
SCIENCE = replace(STANDARD, name="heavy", path="/heavy", profile="science")


@pytest.fixture
def svc() -> Services:
    settings = Settings(
        resources={
            "JOBS_TABLE": "jobs",
            "JOBS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/asyncjobs-JobsQueue-AB",
            "SCIENCE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/asyncjobs-ScienceJobsQueue-CD",
            "EVENT_BUS_NAME": "bus",
            "RESULTS_BUCKET": "results",
        },
    )
    return Services(
        settings,
        store=FakeJobStore(),  # type: ignore[arg-type]
        queue=FakeJobQueue(),  # type: ignore[arg-type]
        queues={"science": FakeJobQueue()},  # type: ignore[dict-item]
        events=FakeEventPublisher(),  # type: ignore[arg-type]
        files=FakeResultFiles(),  # type: ignore[arg-type]
        clock=FakeClock(),
    )


def _sent(svc: Services, profile: str) -> list[str]:
    return [job_id for _, job_id in svc.queue_for(profile).sent]  # type: ignore[attr-defined]


def test_each_action_goes_to_its_profiles_queue(svc):
    # When a standard and a science action are run
    light = use_cases.submit(svc, TENANT, STANDARD, {}, ActionInput())
    heavy = use_cases.submit(svc, TENANT, SCIENCE, {}, ActionInput())
    # Then each message went to its own profile's queue
    assert _sent(svc, "standard") == [light.job_id]
    assert _sent(svc, "science") == [heavy.job_id]


def test_job_of_mixed_profiles_sends_one_batch_per_queue(svc):
    # When a job of science, standard and science actions is run
    calls = [ActionCall(a, {}, ActionInput()) for a in (SCIENCE, STANDARD, SCIENCE)]
    job = use_cases.submit_multi(svc, TENANT, calls)
    # Then each queue got its actions' messages, in one batch
    assert _sent(svc, "science") == [action_job_id(job.job_id, 0), action_job_id(job.job_id, 2)]
    assert _sent(svc, "standard") == [action_job_id(job.job_id, 1)]
    assert svc.queue_for("science").calls == ["send_many"]  # type: ignore[attr-defined]
    assert svc.queue_for("standard").calls == ["send_many"]  # type: ignore[attr-defined]
    assert svc.store.jobs  # stored after every message was sent


def test_a_queue_failing_fails_the_submit_and_stores_nothing(svc):
    # Given the science queue refusing the batch
    svc.queue_for("science").fail("send_many")  # type: ignore[attr-defined]
    # When a job with a science action is run
    calls = [ActionCall(a, {}, ActionInput()) for a in (STANDARD, SCIENCE)]
    with pytest.raises(ServiceUnavailable, match="nothing will run"):
        use_cases.submit_multi(svc, TENANT, calls)
    # Then no job was stored: the standard action's message finds no job and is dropped
    assert svc.store.jobs == {}  # type: ignore[attr-defined]


def test_a_message_is_returned_to_the_queue_it_came_from(svc):
    science = "arn:aws:sqs:us-east-1:1:asyncjobs-ScienceJobsQueue-CD"
    standard = "arn:aws:sqs:us-east-1:1:asyncjobs-JobsQueue-AB"
    assert svc.queue_fed_by(science) is svc.queue_for("science")
    assert svc.queue_fed_by(standard) is svc.queue
    assert svc.queue_fed_by("") is svc.queue  # a record without its source: the standard queue


def test_a_profile_without_its_queue_variable_is_a_deployment_error():
    from asyncjobs.settings import SettingsError

    bare = Services(Settings(resources={"JOBS_QUEUE_URL": "https://sqs.example/q"}))
    with pytest.raises(SettingsError, match="SCIENCE_QUEUE_URL"):
        bare.queue_for("science")
