"""Multi-action jobs (`POST /v2/tenants/{tenant_id}/jobs`) and waiting calls (`Prefer: wait=N`):
each action runs from its own message with its own status and result, the job ends once, when the
last action has, and is announced once; a failed condition, a redelivery or a dead-lettered action
message never counts an action twice nor loses the job's end."""

from __future__ import annotations

import json
import time

from asyncjobs.jobs.ids import action_job_id
from asyncjobs.jobs.queue import message_body

JOBS = "/v2/tenants/acme/jobs"
QUICK = {"name": "diagnostic", "params": {"echo": {"n": 1}}}
FAILING = {"name": "diagnostic", "params": {"fail_with": "action_error"}}


def _submit(harness, actions, **kw):
    reply = harness.request("POST", JOBS, body={"actions": actions}, **kw)
    assert reply.status == 202, reply.body
    return reply.body["job_id"]


def _job(harness, job_id, **kw):
    reply = harness.request("GET", f"{JOBS}/{job_id}", **kw)
    assert reply.status == 200, reply.body
    return reply.body


def _events_for(harness, job_id):
    return [e for e in harness.emitted() if e["detail"]["job_id"] == job_id]


def test_three_actions_one_failing_end_the_job_once_with_each_outcome(harness):
    harness.tap_events()
    job_id = _submit(harness, [QUICK, FAILING, {"name": "diagnostic", "params": {"echo": {"n": 3}}}])

    queued = _job(harness, job_id)
    assert queued["status"] == "queued" and [a["status"] for a in queued["actions"]] == ["queued"] * 3
    assert harness.queue_depth() == 3  # one message per action: they run in parallel

    harness.execute()

    doc = _job(harness, job_id)
    assert doc["action"] == "multi_action" and doc["status"] == "failed", doc
    assert doc["error"]["code"] == "actions_failed" and "1 of 3" in doc["error"]["message"]
    first, second, third = doc["actions"]
    assert (first["index"], first["status"], first["result"]["echo"]) == (0, "succeeded", {"n": 1})
    assert second["status"] == "failed" and second["error"]["code"] == "diagnostic_failure"
    assert "result" not in second
    assert third["status"] == "succeeded" and third["result"]["echo"] == {"n": 3}
    assert doc["actions_total"] == 3 and doc["actions_ended"] == 3
    (event,) = _events_for(harness, job_id)
    assert event["detail-type"] == "Job Failed" and event["detail"]["error"]["code"] == "actions_failed"
    # no action is announced on its own
    assert not [e for e in harness.emitted() if e["detail"]["job_id"].startswith(f"{job_id}.")]


def test_all_actions_succeeding_end_the_job_succeeded(harness):
    job_id = _submit(harness, [QUICK, QUICK])
    harness.execute()
    doc = _job(harness, job_id)
    assert doc["status"] == "succeeded" and doc["progress"] == 100
    assert [a["status"] for a in doc["actions"]] == ["succeeded", "succeeded"]
    assert doc["finished_at"].endswith("Z") and doc["started_at"].endswith("Z")


def test_a_redelivered_action_message_neither_counts_twice_nor_announces_twice(harness):
    harness.tap_events()
    job_id = _submit(harness, [QUICK, QUICK])
    harness.execute()
    # an at-least-once redelivery of an action whose job has ended
    harness.sqs.send_message(
        QueueUrl=harness.trigger.queue_url, MessageBody=message_body("acme", action_job_id(job_id, 0))
    )
    harness.execute()
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded" and sorted(item["ended_actions"]) == [0, 1]
    events = _events_for(harness, job_id)
    # announced again, with the same event id (subscribers deduplicate on it): one webhook each
    assert {e["detail"]["event_id"] for e in events} == {f"{job_id}.succeeded"}


def test_a_crash_between_an_actions_end_and_its_record_is_repaired_by_the_redelivery(harness):
    harness.tap_events()
    job_id = _submit(harness, [QUICK, QUICK])
    harness.execute()
    # As if the executor had crashed after the last action's terminal write, before recording it
    harness.ddb.update_item(
        TableName=harness.stack.ref("JobsTable"),
        Key=harness.job_key("acme", job_id),
        UpdateExpression="SET #s = :q DELETE ended_actions :one REMOVE finished_at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":q": {"S": "in_progress"}, ":one": {"NS": ["1"]}},
    )
    assert _job(harness, job_id)["status"] == "in_progress"
    # the message comes back (it was never deleted)
    harness.sqs.send_message(
        QueueUrl=harness.trigger.queue_url, MessageBody=message_body("acme", action_job_id(job_id, 1))
    )
    harness.execute()
    assert _job(harness, job_id)["status"] == "succeeded"


def test_the_record_whose_response_is_lost_still_ends_the_job(harness):
    harness.tap_events()
    job_id = _submit(harness, [QUICK])
    # UpdateItems of one action: 1 start, 2 mark the job started, 3 terminal write, 4 record its end
    harness.lose_responses("dynamodb", "UpdateItem", skip=3)
    harness.execute()
    assert _job(harness, job_id)["status"] == "succeeded"
    assert len(_events_for(harness, job_id)) == 1


def test_a_dead_lettered_action_message_ends_that_action_and_then_the_job(harness):
    job_id = _submit(harness, [QUICK, QUICK])
    harness.sqs.purge_queue(QueueUrl=harness.trigger.queue_url)
    for i in range(2):
        harness.sqs.send_message(
            QueueUrl=harness.stack.ref("JobsDLQ"), MessageBody=message_body("acme", action_job_id(job_id, i))
        )
    harness.pump()
    doc = _job(harness, job_id)
    assert doc["status"] == "failed"
    assert [a["error"]["code"] for a in doc["actions"]] == ["attempts_exhausted"] * 2


def test_cancelling_a_queued_multi_action_job_ends_it_at_once(harness):
    harness.tap_events()
    job_id = _submit(harness, [QUICK, QUICK, QUICK])
    reply = harness.request("POST", f"{JOBS}/{job_id}/cancel")
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "cancelled"
    assert [a["status"] for a in reply.body["actions"]] == ["cancelled"] * 3
    harness.execute()  # the actions' messages find them cancelled: nothing runs; the job is announced
    events = _events_for(harness, job_id)  # by each action's message: at least once, one event id
    assert {(e["detail-type"], e["detail"]["event_id"]) for e in events} == {
        ("Job Cancelled", f"{job_id}.cancelled")
    }
    again = harness.request("POST", f"{JOBS}/{job_id}/cancel")
    assert again.status == 200 and again.body["status"] == "cancelled"


def test_cancelling_a_running_multi_action_job_stops_its_running_actions(harness):
    slow = {"name": "diagnostic", "params": {"duration_seconds": 5, "steps": 50}}
    job_id = _submit(harness, [slow])
    worker = harness.execute_in_background()
    harness.wait_for(lambda: _job(harness, job_id)["progress"] > 0)
    reply = harness.request("POST", f"{JOBS}/{job_id}/cancel")
    assert reply.status == 202 and reply.body["cancel_requested"] is True, reply.body
    worker.join(timeout=15)
    harness.pump()
    doc = _job(harness, job_id)
    assert doc["status"] == "cancelled" and doc["actions"][0]["status"] == "cancelled"


def test_cancelling_a_finished_multi_action_job_is_409(harness):
    job_id = _submit(harness, [QUICK])
    harness.execute()
    assert harness.request("POST", f"{JOBS}/{job_id}/cancel").status == 409


def test_each_bad_action_is_named_in_one_422(harness):
    actions = [
        {"name": "diagnostic", "params": {"duration_seconds": -1}},
        {"name": "nope"},
        {"name": "proposal_pdf", "params": {}},
        {"name": "diagnostic", "path_params": {"design_id": "d-1"}},
    ]
    reply = harness.request("POST", JOBS, body={"actions": actions})
    assert reply.status == 422, reply.body
    fields = {d["field"] for d in reply.body["error"]["details"]}
    assert "actions.0.params.duration_seconds" in fields
    assert "actions.1.name" in fields
    assert "actions.2.path_params.design_id" in fields
    assert "actions.3.path_params.design_id" in fields
    assert harness.queue_depth() == 0  # nothing was queued


def test_job_size_limits_are_422(harness):
    assert harness.request("POST", JOBS, body={"actions": []}).status == 422
    reply = harness.request("POST", JOBS, body={"actions": [QUICK] * 11})
    assert reply.status == 422 and reply.body["error"]["details"][0]["field"] == "actions"


def test_listing_shows_the_job_not_its_actions(harness):
    job_id = _submit(harness, [QUICK, QUICK])
    single = harness.submit()
    listed = harness.request("GET", JOBS).body["jobs"]
    assert [j["job_id"] for j in listed] == [single, job_id]
    by_kind = harness.request("GET", JOBS, query={"action": "multi_action"}).body["jobs"]
    assert [j["job_id"] for j in by_kind] == [job_id]


def test_the_job_route_reads_one_action_jobs_too_and_hides_other_tenants_jobs(harness):
    single = harness.submit()
    assert _job(harness, single)["action"] == "diagnostic"
    multi = _submit(harness, [QUICK])
    for job_id in (single, multi):
        other = harness.request("GET", f"/v2/tenants/globex/jobs/{job_id}")
        assert other.status == 404, other.body
    assert harness.request("GET", f"{JOBS}/{action_job_id(multi, 0)}").status in (404, 422)


def test_an_expired_multi_action_job_is_gone(harness):
    job_id = _submit(harness, [QUICK])
    harness.ddb.update_item(
        TableName=harness.stack.ref("JobsTable"),
        Key=harness.job_key("acme", job_id),
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert harness.request("GET", f"{JOBS}/{job_id}").status == 404
    harness.execute()  # its actions still run (they expire on their own clock) but record nothing
    assert harness.request("GET", f"{JOBS}/{job_id}").status == 404


def test_an_idempotency_key_replays_a_multi_action_job(harness):
    headers = {"Idempotency-Key": "multi-1"}
    first = harness.request("POST", JOBS, body={"actions": [QUICK]}, headers=headers)
    again = harness.request("POST", JOBS, body={"actions": [QUICK]}, headers=headers)
    assert first.status == again.status == 202
    assert first.body["job_id"] == again.body["job_id"] and again.headers["Idempotent-Replayed"] == "true"
    assert harness.queue_depth() == 1
    other = harness.request("POST", JOBS, body={"actions": [QUICK, QUICK]}, headers=headers)
    assert other.status == 422 and "Idempotency-Key" in other.body["error"]["message"], other.body
    assert harness.queue_depth() == 1


# -- Prefer: wait=N --------------------------------------------------------------------------------


def test_run_with_prefer_wait_answers_200_with_the_finished_job(harness):
    with harness.executor_running():
        reply = harness.run("acme", "/diagnostic", {"echo": {"x": 1}}, headers={"Prefer": "wait=10"})
    assert reply.status == 200, reply.body
    assert reply.headers["Preference-Applied"] == "wait=10"
    assert reply.body["status"] == "succeeded" and reply.body["result"]["echo"] == {"x": 1}
    assert reply.headers["Location"].endswith(f"job_id={reply.body['job_id']}")


def test_run_with_prefer_wait_answers_202_when_the_job_outlasts_it(harness):
    started = time.monotonic()
    reply = harness.run("acme", "/diagnostic", {"duration_seconds": 5}, headers={"Prefer": "wait=1"})
    assert reply.status == 202 and reply.headers["Preference-Applied"] == "wait=1"
    assert 1 <= time.monotonic() - started < 4
    assert reply.body["status"] == "queued"


def test_a_read_failing_while_a_sync_run_waits_answers_202_for_the_accepted_job(harness):
    # The job is stored and queued before the wait: a 503 now would say nothing was started, and a
    # client retrying it (as 503s invite) would run the job twice.
    assert harness.request("GET", "/v2/tenants/acme/jobs").status == 200  # the authorizer is cached
    harness.fail_calls("dynamodb", "GetItem", times=1)
    reply = harness.run("acme", "/diagnostic", {}, headers={"Prefer": "wait=2"})
    assert reply.status == 202, reply.body
    assert reply.body["status"] == "queued" and harness.item("acme", reply.body["job_id"]) is not None
    assert harness.queue_depth() == 1


def test_prefer_wait_is_capped_and_a_malformed_preference_is_ignored(harness):
    job_id = harness.submit(body={"duration_seconds": 60})
    capped = harness.request(
        "GET", f"{JOBS}/{job_id}", headers={"Prefer": "respond-async, wait=0"}
    )  # 0: no waiting at all
    assert capped.status == 200 and capped.headers["Preference-Applied"] == "wait=0"
    ignored = harness.request("GET", f"{JOBS}/{job_id}", headers={"Prefer": "wait=soon"})
    assert ignored.status == 200 and "Preference-Applied" not in ignored.headers
    # the harness gives the function its template Timeout (29 s): at most 25 s are waited
    from asyncjobs.http.v2.jobs import wait_preference

    assert wait_preference("wait=600", 29.0) == 25 and wait_preference("wait=600", 10.0) == 7


def test_multi_action_job_with_prefer_wait(harness):
    with harness.executor_running():
        reply = harness.request(
            "POST", JOBS, body={"actions": [QUICK, FAILING]}, headers={"Prefer": "wait=10"}
        )
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "failed" and len(reply.body["actions"]) == 2


def test_a_waiting_status_call_returns_when_the_job_ends(harness):
    job_id = harness.submit(body={"duration_seconds": 1, "steps": 2})
    worker = harness.execute_in_background()
    started = time.monotonic()
    reply = harness.request(
        "GET", "/v2/tenants/acme/diagnostic/status", query={"job_id": job_id}, headers={"Prefer": "wait=20"}
    )
    took = time.monotonic() - started
    worker.join(timeout=15)
    assert reply.status == 200 and reply.body["status"] == "succeeded", reply.body
    assert took < 10, took  # it returned when the job ended, not after 20 s
    assert "Retry-After" not in reply.headers


def test_a_waiting_status_call_times_out_with_the_current_status(harness):
    job_id = harness.submit(body={"duration_seconds": 30})
    started = time.monotonic()
    reply = harness.request("GET", f"{JOBS}/{job_id}", headers={"Prefer": "wait=1"})
    assert reply.status == 200 and reply.body["status"] == "queued"
    assert reply.headers["Retry-After"] and 1 <= time.monotonic() - started < 4
    assert json.loads(json.dumps(reply.body))["job_id"] == job_id
