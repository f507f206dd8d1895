"""Failure semantics of the job lifecycle when AWS itself misbehaves: writes that commit while their
response is lost (so the SDK's retry fails), items that would outgrow DynamoDB's 400 KB, crashes
between the steps of a run, messages that reach the dead-letter queue, and a cancel followed by a
crash. Each test names what a caller would otherwise see go wrong."""

from __future__ import annotations

import json

import pytest

from asyncjobs.jobs.queue import message_body


def _events_for(harness, job_id):
    return [e for e in harness.emitted() if e["detail"]["job_id"] == job_id]


# -- writes whose response is lost -----------------------------------------------------------------


def test_terminal_write_whose_response_is_lost_still_announces_the_job(harness):
    # Given a job whose terminal write commits but whose response is lost (the SDK's retry then
    # fails the write's own condition)
    harness.tap_events()
    job_id = harness.submit(body={"steps": 1})
    harness.lose_responses("dynamodb", "UpdateItem", skip=1)  # 1: start, 2: the terminal write

    # When the executor runs it
    harness.execute()

    # Then the job is succeeded and its completion event was published all the same
    assert harness.item("acme", job_id)["status"] == "succeeded"
    (event,) = _events_for(harness, job_id)
    assert event["detail"]["status"] == "succeeded"
    assert harness.queue_depth() == 0


def test_cancel_whose_response_is_lost_answers_cancelled_not_409(harness):
    # Given a queued job, and a cancel whose write commits while its response is lost
    job_id = harness.submit()
    harness.lose_responses("dynamodb", "UpdateItem")

    # When the caller cancels it
    reply = harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel")

    # Then the caller is told what happened: the job is cancelled
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "cancelled"


def test_cancelling_a_cancelled_job_again_is_200(harness):
    job_id = harness.submit()
    assert harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel").status == 200
    again = harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel")
    assert again.status == 200 and again.body["status"] == "cancelled"


def test_job_store_write_whose_response_is_lost_is_accepted(harness):
    # Given the job's PutItem commits while its response is lost
    harness.lose_responses("dynamodb", "PutItem")

    # When a caller runs an action
    reply = harness.run("acme", "/diagnostic", {"steps": 1})

    # Then it is accepted (the job is stored) and it runs
    assert reply.status == 202, reply.body
    harness.execute()
    assert harness.item("acme", reply.body["job_id"])["status"] == "succeeded"


def test_job_store_that_commits_then_fails_every_try_is_accepted(harness):
    # Given the job's PutItem commits, and the SDK then reports a server error (its last try timed
    # out or was throttled after DynamoDB had written it)
    harness.lose_responses("dynamodb", "PutItem", code="InternalServerError")

    reply = harness.run("acme", "/diagnostic", {"steps": 1})

    # Then the caller is told the truth: the job is accepted, and it runs
    assert reply.status == 202, reply.body
    harness.execute()
    assert harness.item("acme", reply.body["job_id"])["status"] == "succeeded"


def test_job_store_that_failed_leaves_a_tombstone_no_late_write_can_pass(harness):
    # Given the job's PutItem fails (the SDK gave up; DynamoDB might still process it late)
    harness.fail_calls("dynamodb", "PutItem", times=1, code="InternalServerError")
    reply = harness.run("acme", "/diagnostic", {})
    assert reply.status == 503 and "nothing will run" in reply.body["error"]["message"]

    # Then a tombstone holds the job's key: a late put of the job fails its condition, and the
    # tombstone is hidden from every reader
    (item,) = harness.ddb.scan(TableName=harness.env["JOBS_TABLE"])["Items"]
    job_id = item["job_id"]["S"]
    with pytest.raises(harness.ddb.exceptions.ConditionalCheckFailedException):
        harness.ddb.put_item(
            TableName=harness.env["JOBS_TABLE"],
            Item={**harness.job_key("acme", job_id), "tenant_id": {"S": "acme"}, "status": {"S": "queued"}},
            ConditionExpression="attribute_not_exists(job_id)",
        )
    assert harness.status("acme", "/diagnostic", job_id).status == 404
    assert harness.request("GET", "/v2/tenants/acme/jobs").body["jobs"] == []
    harness.execute()  # its message finds nothing to run
    assert harness.queue_depth() == 0


def test_job_store_whose_outcome_cannot_be_known_says_so(harness):
    # Given the PutItem fails and so does every read that could tell whether it landed
    harness.fail_calls("dynamodb", "PutItem", times=1, code="InternalServerError")
    harness.fail_calls("dynamodb", "GetItem", times=3, skip=1, code="InternalServerError")  # 1: the key

    reply = harness.run("acme", "/diagnostic", {})

    assert reply.status == 503 and reply.headers["Retry-After"]
    assert "may have been stored" in reply.body["error"]["message"]


def test_queue_send_whose_response_is_lost_neither_runs_nor_announces_a_job(harness):
    # Given a SendMessage that goes through while its response is lost (the caller gets a 503)
    harness.tap_events()
    harness.lose_responses("sqs", "SendMessage")

    reply = harness.run("acme", "/diagnostic", {"steps": 1})
    assert reply.status == 503
    assert "nothing will run" in reply.body["error"]["message"]

    # When the message that did go out is delivered
    harness.execute()

    # Then no job exists, nothing ran and nothing was announced: what the 503 said holds
    assert harness.request("GET", "/v2/tenants/acme/jobs").body["jobs"] == []
    assert harness.emitted() == []
    assert harness.queue_depth() == 0


# -- crashes between the steps of a run ------------------------------------------------------------


def test_run_failing_between_send_and_store_leaves_nothing_behind(harness):
    # Given the message is sent but the job cannot be stored (a crash or a DynamoDB failure)
    harness.tap_events()
    harness.fail_calls("dynamodb", "PutItem", times=1, code="InternalServerError")
    reply = harness.run("acme", "/diagnostic", {})
    assert reply.status == 503

    # When the orphan message is delivered (on its first and later receives)
    harness.execute()

    # Then it is dropped: no job, nothing queued, nothing dead-lettered, nothing announced
    assert harness.request("GET", "/v2/tenants/acme/jobs").body["jobs"] == []
    assert harness.queue_depth() == 0
    assert harness.queue_depth(harness.stack.outputs["JobsDLQUrl"]) == 0
    assert harness.emitted() == []


def test_message_arriving_before_its_job_is_stored_waits_for_it(harness):
    # Given a message delivered before the run function's PutItem lands (SQS can be that fast)
    from asyncjobs.jobs.executor import process_message

    job_id = "01a20000-0000-7000-8000-000000000001"
    svc = harness.services()
    stored = []
    original_get = svc.store.get

    def get_then_store(tenant_id, jid):
        found = original_get(tenant_id, jid)
        if not stored:  # the put lands right after the executor's first read
            stored.append(True)
            harness.submit_item(job_id, {"steps": 1})
        return found

    svc.store.get = get_then_store
    try:
        process_message(svc, message_body("acme", job_id), receive_count=1, remaining_s=30)
    finally:
        svc.store.get = original_get

    # Then the job ran all the same
    assert harness.item("acme", job_id)["status"] == "succeeded"


# -- items that would outgrow DynamoDB ---------------------------------------------------------------


def test_large_input_and_large_result_both_fit(harness):
    # Given an input of ~250 KB whose result echoes it (input + result > DynamoDB's 400 KB item)
    blob = {"data": "x" * 250_000}
    job_id = harness.submit(body={"steps": 1, "echo": blob})

    # When it runs
    harness.execute()

    # Then it succeeds at once, and the result is served as a file
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded" and item["attempts"] == 1
    doc = harness.status("acme", "/diagnostic", job_id).body
    assert "result" not in doc
    file = doc["result_file"]
    assert file["size_bytes"] > 250_000 and file["download_url"].startswith("http")
    assert "result_json" not in item and "input_json" not in item  # the item stays small
    body = harness.s3.get_object(Bucket=harness.env["RESULTS_BUCKET"], Key=item["result_file"]["key"])
    assert json.loads(body["Body"].read())["echo"] == blob
    assert int(file["size_bytes"]) == body["ContentLength"]


def test_result_that_cannot_be_stored_fails_the_job_at_once(harness, monkeypatch):
    # Given a result larger than the product stores
    from asyncjobs.jobs import runner

    monkeypatch.setattr(runner, "MAX_RESULT_BYTES", 100_000)
    job_id = harness.submit(body={"steps": 1, "echo": {"data": "x" * 150_000}})

    harness.execute()

    # Then the job fails on its first attempt with a code that says why
    item = harness.item("acme", job_id)
    assert item["status"] == "failed" and item["attempts"] == 1
    assert item["error"]["code"] == "result_too_large"


def test_item_the_table_refuses_fails_the_job_at_once_instead_of_retrying(harness):
    # Given DynamoDB refuses the terminal write as invalid (e.g. an item over 400 KB)
    job_id = harness.submit(body={"steps": 1})
    writes = harness.fail_calls("dynamodb", "UpdateItem", times=1, skip=1, code="ValidationException")

    harness.execute()

    # Then the job is not retried: it ends failed with a clear code in the next write
    item = harness.item("acme", job_id)
    assert item["status"] == "failed" and item["attempts"] == 1, item
    assert item["error"]["code"] == "result_not_storable"
    assert writes[0] == 3  # start, the refused write, the failed ending


# -- dead-lettered messages: the reconciler -------------------------------------------------------


def _dead_letter(harness, tenant, job_id):
    harness.sqs.send_message(
        QueueUrl=harness.stack.outputs["JobsDLQUrl"], MessageBody=message_body(tenant, job_id)
    )


def test_job_whose_message_was_dead_lettered_before_it_ran_ends_failed_and_is_announced(harness):
    # Given a queued job whose message reached the dead-letter queue unprocessed (e.g. Lambda
    # throttled the executor until the queue's receive limit)
    harness.tap_events()
    job_id = harness.submit()
    harness.sqs.purge_queue(QueueUrl=harness.trigger.queue_url)
    _dead_letter(harness, "acme", job_id)

    # When the event sources run
    harness.pump()

    # Then the reconciler ended the job, announced it, and the dead-letter queue is empty
    item = harness.item("acme", job_id)
    assert item["status"] == "failed" and item["error"]["code"] == "attempts_exhausted"
    assert [e["detail"]["status"] for e in _events_for(harness, job_id)] == ["failed"]
    assert harness.queue_depth(harness.stack.outputs["JobsDLQUrl"]) == 0


def test_job_left_in_progress_by_a_crash_is_ended_by_the_reconciler(harness):
    # Given a job whose last attempt crashed (lease over) and whose message was dead-lettered
    harness.tap_events()
    job_id = harness.submit()
    harness.sqs.purge_queue(QueueUrl=harness.trigger.queue_url)
    svc = harness.services()
    job = svc.store.get("acme", job_id)
    svc.store.start(job, svc.clock() - 100, lease_until=svc.clock() - 50)
    _dead_letter(harness, "acme", job_id)

    harness.pump()

    item = harness.item("acme", job_id)
    assert item["status"] == "failed" and item["error"]["code"] == "attempts_exhausted"
    assert len(_events_for(harness, job_id)) == 1


def test_dead_lettered_message_of_an_ended_job_is_announced_again_and_removed(harness):
    harness.tap_events()
    job_id = harness.submit(body={"steps": 1})
    harness.execute()
    harness.emitted()
    _dead_letter(harness, "acme", job_id)

    harness.pump()

    assert [e["detail"]["event_id"] for e in _events_for(harness, job_id)] == [f"{job_id}.succeeded"]
    assert harness.queue_depth(harness.stack.outputs["JobsDLQUrl"]) == 0


# -- cancel, then crash ------------------------------------------------------------------------------


def test_cancelled_job_whose_attempt_crashed_is_not_run_again(harness):
    # Given a running job whose cancel was accepted (202), then its attempt crashed
    harness.tap_events()
    job_id = harness.submit(body={"steps": 1})
    svc = harness.services()
    job = svc.store.get("acme", job_id)
    svc.store.start(job, svc.clock() - 100, lease_until=svc.clock() + 60)
    assert harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel").status == 202
    harness.ddb.update_item(  # the crashed attempt's lease runs out
        TableName=harness.env["JOBS_TABLE"],
        Key=harness.job_key("acme", job_id),
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"N": str(svc.clock() - 1)}},
    )

    # When its message is delivered again
    harness.execute()

    # Then it is not run again: it ends cancelled, announced once
    item = harness.item("acme", job_id)
    assert item["status"] == "cancelled" and item["attempts"] == 1
    assert [e["detail"]["status"] for e in _events_for(harness, job_id)] == ["cancelled"]


def test_claim_whose_response_is_lost_is_still_this_attempts(harness):
    # Given the executor's claim (queued -> in_progress) commits while its response is lost
    harness.tap_events()
    job_id = harness.submit(body={"steps": 1})
    harness.lose_responses("dynamodb", "UpdateItem")  # the first UpdateItem is the claim

    harness.execute()

    # Then the attempt recognised its own claim and ran the job (not left in progress for a
    # visibility timeout with an attempt used up)
    item = harness.item("acme", job_id)
    assert item["status"] == "succeeded" and item["attempts"] == 1
    assert len(_events_for(harness, job_id)) == 1


def test_cancel_accepted_just_before_the_closing_write_ends_the_job_cancelled(harness):
    # Given a job whose last attempt crashed, on its closing receive; between the executor's read
    # and its closing write, the caller's cancel is accepted (202)
    from asyncjobs.jobs.executor import process_message

    harness.tap_events()
    job_id = harness.submit()
    svc = harness.services()
    job = svc.store.get("acme", job_id)
    svc.store.start(job, svc.clock() - 100, lease_until=svc.clock() - 50)
    table, key = harness.env["JOBS_TABLE"], harness.job_key("acme", job_id)
    raced = []

    def cancel_first(**_):
        if not raced:
            raced.append(True)
            harness.ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET cancel_requested = :t",
                ExpressionAttributeValues={":t": {"BOOL": True}},
            )

    from asyncjobs.aws import clients as aws

    aws.client("dynamodb").meta.events.register("before-call.dynamodb.UpdateItem", cancel_first)
    closing = int(harness.env["MAX_RECEIVE_COUNT"]) - 1

    process_message(svc, message_body("acme", job_id), receive_count=closing, remaining_s=30)

    # Then the cancel the caller was promised wins over attempts_exhausted
    assert raced
    assert harness.item("acme", job_id)["status"] == "cancelled"
    assert [e["detail"]["status"] for e in _events_for(harness, job_id)] == ["cancelled"]


def test_event_of_a_result_stored_as_a_file_says_it_was_left_out(harness):
    harness.tap_events()
    job_id = harness.submit(body={"steps": 1, "echo": {"data": "x" * 70_000}})
    harness.execute()
    (event,) = _events_for(harness, job_id)
    assert event["detail"]["result_omitted"] is True and "result" not in event["detail"]


def test_message_whose_job_is_not_stored_yet_comes_back_in_seconds(harness, monkeypatch):
    # Given a message whose job is not stored half a second after it arrived (the run function's
    # PutItem is still being retried by the SDK, say)
    from asyncjobs.jobs import executor
    from devstack.lambda_runtime import LambdaContext, deliver_batch

    monkeypatch.setattr(executor, "STORE_RECHECK_S", 1)
    job_id = "01a20000-0000-7000-8000-000000000002"
    _redeliver_to(harness, "acme", job_id)
    fn = harness.stack.functions["ExecutorFunction"]

    def run(event):
        return harness.handlers["ExecutorFunction"](event, LambdaContext(fn.name, fn.memory, fn.timeout))

    received, failed = deliver_batch(
        harness.sqs,
        harness.trigger.queue_url,
        harness.trigger.queue_arn,
        run,
        batch_size=1,
        report_batch_item_failures=True,
        failed_visibility_timeout=None,  # whatever the function set, as on AWS
    )
    assert (received, failed) == (1, 1)
    harness.submit_item(job_id, {"steps": 1})  # the put lands

    # Then the message is back within seconds (not after the 30-minute visibility timeout)
    harness.wait_for(lambda: harness.execute(retry_now=False), timeout=5)
    assert harness.item("acme", job_id)["status"] == "succeeded"


def _redeliver_to(harness, tenant, job_id):
    harness.sqs.send_message(QueueUrl=harness.trigger.queue_url, MessageBody=message_body(tenant, job_id))
