"""Actions longer than one invocation (issue 14): the diagnostic action in its checkpoint mode, over
the real executor against moto, with the ExecutorFunction's Timeout shortened to 2 s so a job of
a few seconds continues several times (a checkpoint continues with 40 % of the invocation plus
its longest step left, i.e. about every second here). An action of the `science` runtime profile
continues on its own profile's queue (ScienceJobsQueue, ScienceExecutorFunction), never JobsQueue."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from asyncjobs.actions.registry import ACTIONS
from asyncjobs.jobs.ids import action_job_id

LONG = {"duration_seconds": 6, "steps": 40, "checkpoint": True}
EXECUTORS = ("ExecutorFunction", "ScienceExecutorFunction")
QUEUES = ("JobsQueue", "JobsDLQ", "ScienceJobsQueue", "ScienceJobsDLQ")


def _short_executor_timeout(harness, seconds=2, function="ExecutorFunction"):
    harness.stack.functions[function].timeout = seconds


def _events_for(harness, job_id):
    return [e for e in harness.emitted() if e["detail"]["job_id"] == job_id]


def test_a_job_longer_than_its_invocations_continues_and_succeeds_once(harness):
    # Given a job three times longer than the executor's invocations
    harness.tap_events()
    _short_executor_timeout(harness)
    job_id = harness.submit(body=LONG)

    # When the executor runs it, while a caller polls its status
    seen: list[tuple[str, int]] = []
    counts: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            doc = harness.status("acme", "/diagnostic", job_id).body
            seen.append((doc["status"], doc["progress"]))
            counts.append(doc.get("continuations", 0))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    harness.execute()
    stop.set()
    poller.join(timeout=5)

    # Then it succeeded after 3 continuations or more, as its first attempt, with one event
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded" and item["progress"] == 100
    assert item["continuations"] >= 3 and item["attempts"] == item["continuations"] + 1
    doc = harness.status("acme", "/diagnostic", job_id).body
    assert doc["continuations"] == item["continuations"]  # the status document says it too
    result = doc["result"]
    assert result["attempt"] == 1 and result["continuations"] == item["continuations"]
    assert 0 < result["resumed_at_step"] < 40
    (event,) = _events_for(harness, job_id)
    assert event["detail-type"] == "Job Succeeded"
    # in progress all along, progress never going back
    progress = [p for s, p in seen]
    assert progress == sorted(progress) and {s for s, _ in seen} <= {"queued", "in_progress", "succeeded"}
    assert any(s == "in_progress" and 0 < p < 100 for s, p in seen)
    assert counts == sorted(counts) and counts[-1] == item["continuations"]
    assert harness.queue_depth() == 0 and harness.queue_depth(harness.stack.ref("JobsDLQ")) == 0


def test_a_cancel_between_continuations_ends_the_job_cancelled(harness):
    harness.tap_events()
    _short_executor_timeout(harness)
    job_id = harness.submit(body=LONG)

    # Given the job's first invocation has ended by continuing
    assert harness.execute(max_batches=1) == 1
    item = harness.item("acme", job_id)
    assert item["status"] == "in_progress" and item["continuations"] == 1
    progress = item["progress"]

    # When the caller cancels it while it waits for its next invocation
    reply = harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel")
    assert reply.status == 202 and reply.body["cancel_requested"] is True

    # Then the next invocation ends it cancelled without running it
    harness.execute()
    item = harness.item("acme", job_id)
    assert item["status"] == "cancelled" and item["attempts"] == 1 and item["progress"] == progress
    (event,) = _events_for(harness, job_id)
    assert event["detail-type"] == "Job Cancelled"
    assert harness.queue_depth() == 0


def test_a_continuation_message_lost_after_the_continue_write_is_sent_again(harness):
    # Given the continuation's message cannot be sent (SQS fails both tries, after the run
    # function's own send): the continuation is written, its message missing
    harness.tap_events()
    _short_executor_timeout(harness)
    sends = harness.fail_calls("sqs", "SendMessage", times=2, skip=1)
    job_id = harness.submit(body=LONG)

    # When the executor runs: the first message comes back, finds itself superseded with the
    # lease released, and sends the continuation's message
    harness.execute()

    # Then the job ends once, succeeded, announced once
    assert sends[0] >= 4
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded" and item["continuations"] >= 3
    assert harness.status("acme", "/diagnostic", job_id).body["result"]["attempt"] == 1
    assert len(_events_for(harness, job_id)) == 1
    assert harness.queue_depth() == 0 and harness.queue_depth(harness.stack.ref("JobsDLQ")) == 0


def test_a_failed_continuation_is_retried_from_its_checkpoint_and_ends_once(harness):
    # Given a checkpoint write of the second invocation fails (DynamoDB throttles it)
    harness.tap_events()
    _short_executor_timeout(harness)
    job_id = harness.submit(body=LONG)
    assert harness.execute(max_batches=1) == 1
    step = int(harness.item("acme", job_id)["checkpoint_json"].split(":")[1].rstrip("}"))
    # 1: the claim, 2: a checkpoint
    harness.fail_calls("dynamodb", "UpdateItem", times=1, skip=2, code="ThrottlingException")

    # When the executor runs on
    harness.execute()

    # Then the failed invocation was retried as the job's second try, from its last checkpoint,
    # and the job ended once
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded"
    assert item["attempts"] == item["continuations"] + 2
    result = harness.status("acme", "/diagnostic", job_id).body["result"]
    assert result["attempt"] == 2 and result["resumed_at_step"] > step
    assert len(_events_for(harness, job_id)) == 1
    assert harness.queue_depth() == 0 and harness.queue_depth(harness.stack.ref("JobsDLQ")) == 0


def test_a_job_that_continues_too_often_fails_with_a_clear_error(harness, monkeypatch):
    from asyncjobs.jobs import runner

    monkeypatch.setattr(runner, "MAX_CONTINUATIONS", 2)
    harness.tap_events()
    _short_executor_timeout(harness)
    job_id = harness.submit(body=LONG)
    harness.execute()
    doc = harness.status("acme", "/diagnostic", job_id).body
    assert doc["status"] == "failed" and doc["error"]["code"] == "too_many_continuations"
    assert harness.item("acme", job_id)["continuations"] == 2
    assert len(_events_for(harness, job_id)) == 1


# -- continuations on the queue of the action's runtime profile ------------------------------------


@pytest.fixture
def science_diagnostic(monkeypatch):
    """The diagnostic action, declared with the `science` profile for this test (as in
    test_profiles.py: an action of the science layer declares itself so)."""
    monkeypatch.setitem(ACTIONS, "diagnostic", replace(ACTIONS["diagnostic"], profile="science"))


@pytest.fixture
def delivered(harness):
    """function -> [(ARN of the queue a message came from, its body)], for both executors."""
    seen: dict[str, list[tuple[str, dict]]] = {function: [] for function in EXECUTORS}
    for function, messages in seen.items():
        handler = harness.handlers[function]

        def recording(event, context, handler=handler, messages=messages):
            messages.extend((r["eventSourceARN"], json.loads(r["body"])) for r in event["Records"])
            return handler(event, context)

        harness.handlers[function] = recording
    return seen


def _queue_arn(harness, function):
    return next(t.queue_arn for t in harness.stack.queue_triggers if t.function == function)


def _carried(harness, job_id, continuations):
    """The messages of a job that continued `continuations` times, each from the science queue:
    its first message, then one per continuation carrying its number."""
    arn = _queue_arn(harness, "ScienceExecutorFunction")
    first = {"tenant_id": "acme", "job_id": job_id}
    return [(arn, first)] + [(arn, {**first, "continuation": n}) for n in range(1, int(continuations) + 1)]


def _all_queues_empty(harness):
    return {name: harness.queue_depth(harness.stack.ref(name)) for name in QUEUES} == dict.fromkeys(QUEUES, 0)


def test_a_science_action_continues_on_the_science_queue(harness, science_diagnostic, delivered):
    # Given an action of the science profile three times longer than its executor's invocations
    harness.tap_events()
    _short_executor_timeout(harness, function="ScienceExecutorFunction")
    job_id = harness.submit(body=LONG)

    # When every queue's function runs, as Lambda would
    harness.pump(timeout=120)

    # Then it continued 3 times or more, and each continuation's message was on the science queue,
    # run by the science executor; nothing reached JobsQueue or ExecutorFunction
    assert delivered["ExecutorFunction"] == []
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded" and item["continuations"] >= 3
    assert item["attempts"] == item["continuations"] + 1
    assert delivered == {
        "ExecutorFunction": [],
        "ScienceExecutorFunction": _carried(harness, job_id, item["continuations"]),
    }
    # and it ended once, with its result and one event
    result = harness.status("acme", "/diagnostic", job_id).body["result"]
    assert result["attempt"] == 1 and result["continuations"] == item["continuations"]
    (event,) = _events_for(harness, job_id)
    assert event["detail-type"] == "Job Succeeded"
    assert _all_queues_empty(harness)


def test_the_science_action_of_a_mixed_job_continues_on_the_science_queue(
    harness, science_diagnostic, delivered
):
    # Given a job of a standard action and a science action longer than its invocations
    harness.tap_events()
    _short_executor_timeout(harness, function="ScienceExecutorFunction")
    actions = [
        {"name": "highlight", "params": {"text": "a b", "highlight_expression": "a"}},
        {"name": "diagnostic", "params": LONG},
    ]
    reply = harness.request("POST", "/v2/tenants/acme/jobs", body={"actions": actions})
    assert reply.status == 202, reply.body
    job_id = reply.body["job_id"]
    standard, science = action_job_id(job_id, 0), action_job_id(job_id, 1)

    # When every queue's function runs
    harness.pump(timeout=120)

    # Then the science action's continuations were all on the science queue; ExecutorFunction
    # ran the standard action's one message only
    assert [body["job_id"] for _, body in delivered["ExecutorFunction"]] == [standard]
    item = harness.item("acme", science)
    assert item["status"] == "succeeded" and item["continuations"] >= 3
    assert delivered == {
        "ExecutorFunction": [
            (_queue_arn(harness, "ExecutorFunction"), {"tenant_id": "acme", "job_id": standard})
        ],
        "ScienceExecutorFunction": _carried(harness, science, item["continuations"]),
    }
    # and the job ended once, both actions succeeded
    doc = harness.request("GET", f"/v2/tenants/acme/jobs/{job_id}").body
    assert doc["status"] == "succeeded" and [a["status"] for a in doc["actions"]] == ["succeeded"] * 2, doc
    events = harness.emitted()
    assert [(e["detail-type"], e["detail"]["job_id"]) for e in events] == [("Job Succeeded", job_id)]
    assert _all_queues_empty(harness)
