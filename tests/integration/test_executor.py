"""The executor under SQS's at-least-once delivery: redelivery, retries, exhaustion, events."""

from __future__ import annotations

import json

import pytest

from asyncjobs.aws.dynamo import ConditionFailed
from asyncjobs.jobs.executor import MessageRetry, process_message
from asyncjobs.jobs.models import JobStatus
from asyncjobs.jobs.queue import message_body
from tests.support import load_event


def _redeliver(harness, tenant: str, job_id: str) -> None:
    """Puts the job's message on the queue again, as an SQS duplicate or a replay would."""
    harness.sqs.send_message(QueueUrl=harness.trigger.queue_url, MessageBody=message_body(tenant, job_id))


def test_completion_event_is_emitted_once_per_terminal_job(harness):
    harness.tap_events()
    ok = harness.submit(body={"echo": {"n": 1}})
    bad = harness.submit(body={"fail_with": "action_error"})
    harness.execute()

    events = {e["detail"]["job_id"]: e for e in harness.emitted()}
    assert set(events) == {ok, bad}
    assert events[ok]["detail-type"] == "Job Succeeded"
    assert events[ok]["source"] == "asyncjobs"
    assert events[ok]["detail"]["status"] == "succeeded"
    assert events[ok]["detail"]["result"]["echo"] == {"n": 1}
    assert events[ok]["detail"]["tenant_id"] == "acme" and events[ok]["detail"]["action"] == "diagnostic"
    assert events[bad]["detail-type"] == "Job Failed"
    assert events[bad]["detail"]["error"]["code"] == "diagnostic_failure"


def test_redelivered_message_does_not_run_a_finished_job_again(harness):
    harness.tap_events()
    job_id = harness.submit(body={"echo": {"n": 1}})
    harness.execute()
    first = harness.item("acme", job_id)
    first_event = harness.emitted()

    _redeliver(harness, "acme", job_id)
    assert harness.execute() == 1

    again = harness.item("acme", job_id)
    assert again["attempts"] == 1  # not started a second time
    assert again["result_json"] == first["result_json"] and again["finished_at"] == first["finished_at"]
    # The event is published again (at least once), with the same event id for deduplication.
    (second_event,) = harness.emitted()
    assert second_event["detail"]["event_id"] == first_event[0]["detail"]["event_id"] == f"{job_id}.succeeded"


def test_crash_between_terminal_write_and_event_is_repaired_by_redelivery(harness):
    harness.tap_events()
    put_events = harness.fail_calls("events", "PutEvents", times=1)
    job_id = harness.submit()

    harness.execute()

    assert put_events[0] == 2  # failed once, then published on the redelivery
    assert harness.item("acme", job_id)["status"] == "succeeded"
    assert harness.item("acme", job_id)["attempts"] == 1  # the action ran once
    (event,) = harness.emitted()
    assert event["detail"]["job_id"] == job_id and event["detail-type"] == "Job Succeeded"
    assert harness.queue_depth() == 0


def test_infrastructure_error_is_retried_then_the_job_succeeds(harness):
    harness.fail_calls("dynamodb", "UpdateItem", times=1, code="ProvisionedThroughputExceededException")
    job_id = harness.submit()

    assert harness.execute() == 2  # first delivery failed on the throttled write, second ran the job

    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded"


def test_transient_action_error_is_retried_with_a_new_attempt(harness):
    job_id = harness.submit(body={"transient_failures": 1})
    assert harness.execute() == 2
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded" and item["attempts"] == 2
    assert harness.status("acme", "/diagnostic", job_id).body["result"]["attempt"] == 2


def test_exhausting_receives_ends_the_job_failed_and_announces_it(harness):
    harness.tap_events()
    max_receives = int(harness.env["MAX_RECEIVE_COUNT"])
    job_id = harness.submit(body={"transient_failures": 10})

    assert harness.execute() == max_receives - 1

    doc = harness.status("acme", "/diagnostic", job_id).body
    assert doc["status"] == "failed"
    assert doc["error"]["code"] == "attempts_exhausted"
    assert harness.item("acme", job_id)["attempts"] == max_receives - 2
    assert harness.queue_depth() == 0
    assert harness.queue_depth(harness.stack.ref("JobsDLQ")) == 0  # ended, not dead-lettered
    (event,) = harness.emitted()
    assert event["detail-type"] == "Job Failed" and event["detail"]["job_id"] == job_id


def test_job_never_started_ends_failed_on_its_last_receive(harness):
    # DynamoDB rejects every attempt to start the job; the last receive still ends it.
    max_receives = int(harness.env["MAX_RECEIVE_COUNT"])
    harness.fail_calls("dynamodb", "UpdateItem", times=max_receives - 2, code="ThrottlingException")
    job_id = harness.submit()
    harness.execute()
    item = harness.item("acme", job_id)
    assert item["status"] == "failed" and item["error"]["code"] == "attempts_exhausted"
    assert item["attempts"] == 0


def test_unreadable_message_goes_to_the_dead_letter_queue(harness):
    harness.sqs.send_message(QueueUrl=harness.trigger.queue_url, MessageBody="not json")
    max_receives = int(harness.env["MAX_RECEIVE_COUNT"])

    assert harness.execute() == max_receives

    dlq = harness.stack.ref("JobsDLQ")
    msgs = harness.sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    assert [m["Body"] for m in msgs] == ["not json"]  # kept for inspection, and the alarm fires


def test_message_for_unknown_job_is_dropped_after_one_more_look(harness):
    # The run function sends before it stores: on its first receive the job may not be stored yet.
    _redeliver(harness, "acme", "0190aaaa-0000-7000-8000-000000000000")
    assert harness.execute() == 2
    assert harness.queue_depth() == 0
    assert harness.queue_depth(harness.stack.ref("JobsDLQ")) == 0


def test_stale_attempt_cannot_overwrite_the_outcome_of_a_newer_one(harness):
    svc = harness.services()
    job_id = harness.submit()
    queued = svc.store.get("acme", job_id)
    now = svc.clock()
    stale = svc.store.start(queued, now, lease_until=now - 1)  # attempt 1, its lease already over
    newer = svc.store.start(stale, now, lease_until=now + 60)  # attempt 2 takes over
    assert newer.attempts == 2

    with pytest.raises(ConditionFailed):
        svc.store.finish(stale, JobStatus.SUCCEEDED, now, result_json='{"from":"stale"}')
    svc.store.finish(newer, JobStatus.SUCCEEDED, now, result_json='{"from":"newer"}')
    with pytest.raises(ConditionFailed):  # nor can anything overwrite a terminal state
        svc.store.finish(newer, JobStatus.FAILED, now)
    assert harness.item("acme", job_id)["result_json"] == '{"from":"newer"}'


def test_concurrent_duplicate_delivery_waits_for_the_live_attempt(harness):
    svc = harness.services()
    job_id = harness.submit()
    job = svc.store.get("acme", job_id)
    svc.store.start(job, svc.clock(), lease_until=svc.clock() + 60)  # another worker holds it

    with pytest.raises(MessageRetry):
        process_message(svc, message_body("acme", job_id), receive_count=1, remaining_s=60)
    assert harness.item("acme", job_id)["attempts"] == 1


def test_executor_logs_carry_the_job_id_on_every_line(harness, log_lines):
    job_id = harness.submit(body={"fail_with": "exception"})
    harness.execute()
    logs = [x for x in log_lines() if x.get("function_name") == "test-ExecutorFunction"]
    assert {"job started", "action raised", "job finished", "job event published"} <= {
        x["message"] for x in logs
    }
    assert all(x.get("job_id") == job_id for x in logs)
    # the traceback is in the logs (for operators), not in the job (for callers)
    assert "secret" in next(x for x in logs if x["message"] == "action raised")["exception"]


def test_metrics_for_submitted_and_finished_jobs(harness, capsys):
    harness.submit()
    harness.submit(body={"fail_with": "action_error"})
    harness.execute()
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]
    names = [m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert names.count("JobsSubmitted") == 2
    assert names.count("JobsSucceeded") == 1 and names.count("JobsFailed") == 1
    assert names.count("JobDuration") == 2
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AsyncJobs" for doc in emf)


def test_sample_executor_event_for_a_real_job(harness):
    from devstack.lambda_runtime import LambdaContext

    event = load_event("executor.json")
    job_id = harness.submit()
    event["Records"][0]["body"] = json.dumps({"tenant_id": "acme", "job_id": job_id})
    out = harness.handlers["ExecutorFunction"](event, LambdaContext("executor", 1024, 300))
    assert out == {"batchItemFailures": []}
    assert harness.item("acme", job_id)["status"] == "succeeded"


def test_closing_receive_insists_through_transient_errors(harness):
    # On the receives that must end the job, a failing write or event is retried in place.
    harness.tap_events()
    max_receives = int(harness.env["MAX_RECEIVE_COUNT"])
    job_id = harness.submit(body={"transient_failures": 10})
    # each attempt writes twice (start, then release after the transient failure); then the abandon
    writes = harness.fail_calls(
        "dynamodb", "UpdateItem", times=2, code="ThrottlingException", skip=2 * (max_receives - 2)
    )
    events = harness.fail_calls("events", "PutEvents", times=2)
    assert harness.execute() == max_receives - 1  # ended on its first closing receive
    assert writes[0] == 2 * (max_receives - 2) + 3 and events[0] == 3
    assert harness.item("acme", job_id)["status"] == "failed"
    assert [e["detail"]["job_id"] for e in harness.emitted()] == [job_id]
    assert harness.queue_depth(harness.stack.ref("JobsDLQ")) == 0
