"""Runtime profiles (`actions/profiles.py`): each action's message goes to its profile's queue, and
that queue's executor function runs it. A test declares the diagnostic action with the `science`
profile (a twin of the same code), so routing is checked apart from the design actions
(tests/integration/test_design_actions.py runs those on the science queue)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from asyncjobs.actions.declaration import Action
from asyncjobs.actions.registry import ACTIONS
from asyncjobs.jobs.queue import parse_message

JOBS = "/v2/tenants/acme/jobs"


@pytest.fixture
def science_diagnostic(monkeypatch):
    """The diagnostic action, declared with the `science` profile for this test."""
    monkeypatch.setitem(ACTIONS, "diagnostic", replace(ACTIONS["diagnostic"], profile="science"))


@pytest.fixture
def ran(harness):
    """function -> job ids it was handed, for both executor functions."""
    seen: dict[str, list[str]] = {"ExecutorFunction": [], "ScienceExecutorFunction": []}
    for function, ids in seen.items():
        handler = harness.handlers[function]

        def recording(event, context, handler=handler, ids=ids):
            ids.extend(parse_message(r["body"])[1] for r in event["Records"])
            return handler(event, context)

        harness.handlers[function] = recording
    return seen


def _queued(harness, logical_id):
    """The job ids of the messages waiting in a queue (received, then made visible again)."""
    url = harness.stack.ref(logical_id)
    msgs = harness.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    return sorted(json.loads(m["Body"])["job_id"] for m in msgs)


def test_standard_action_goes_to_the_jobs_queue_and_the_executor(harness, ran):
    # Given an action of the standard profile
    assert ACTIONS["diagnostic"].profile == "standard"
    # When it is run
    job_id = harness.submit(body={"echo": {"n": 1}})
    # Then its message is in JobsQueue, none in the science queue
    assert _queued(harness, "JobsQueue") == [job_id]
    assert _queued(harness, "ScienceJobsQueue") == []
    # and ExecutorFunction runs it
    harness.pump()
    assert ran == {"ExecutorFunction": [job_id], "ScienceExecutorFunction": []}
    assert harness.status("acme", "/diagnostic", job_id).body["status"] == "succeeded"


def test_science_action_goes_to_the_science_queue_and_its_executor(harness, ran, science_diagnostic):
    # Given an action declared with the science profile
    # When it is run
    job_id = harness.submit(body={"echo": {"n": 2}})
    # Then its message is in the science queue only
    assert _queued(harness, "ScienceJobsQueue") == [job_id]
    assert _queued(harness, "JobsQueue") == []
    # and ScienceExecutorFunction (2048 MB, 900 s, the science layer) runs it
    harness.pump()
    assert ran == {"ExecutorFunction": [], "ScienceExecutorFunction": [job_id]}
    doc = harness.status("acme", "/diagnostic", job_id).body
    assert doc["status"] == "succeeded" and doc["result"]["echo"] == {"n": 2}, doc
    science = harness.stack.functions["ScienceExecutorFunction"]
    assert (science.memory, science.timeout) == (2048, 900)


def test_job_of_mixed_profiles_sends_each_action_to_its_queue(harness, ran, science_diagnostic):
    # Given a job of a science action and a standard one
    actions = [
        {"name": "diagnostic", "params": {"echo": {"n": 1}}},
        {"name": "highlight", "params": {"text": "a b", "highlight_expression": "a"}},
    ]
    reply = harness.request("POST", JOBS, body={"actions": actions})
    assert reply.status == 202, reply.body
    job_id = reply.body["job_id"]
    # Then each action's message went to its own profile's queue
    (science,) = _queued(harness, "ScienceJobsQueue")
    (standard,) = _queued(harness, "JobsQueue")
    # and each executor runs its own; the job ends once both have
    harness.pump()
    assert ran == {"ExecutorFunction": [standard], "ScienceExecutorFunction": [science]}
    doc = harness.request("GET", f"{JOBS}/{job_id}").body
    assert doc["status"] == "succeeded", doc
    assert [a["status"] for a in doc["actions"]] == ["succeeded", "succeeded"]


def test_science_queue_failure_queues_nothing_and_answers_503(harness, science_diagnostic):
    # Given the science queue refusing messages
    harness.fail_calls("sqs", "SendMessage", times=1, code="ServiceUnavailable")
    # When a science action is run
    reply = harness.run("acme", "/diagnostic", {})
    # Then the caller is told nothing will run, and no job was stored
    assert reply.status == 503, reply.body
    assert harness.request("GET", JOBS).body["jobs"] == []


def test_unknown_profile_fails_at_declaration():
    with pytest.raises(ValueError, match="unknown runtime profile 'gpu'"):
        Action(name="x", path="/x", input="m:I", implementation="m:run", summary="x", profile="gpu")
