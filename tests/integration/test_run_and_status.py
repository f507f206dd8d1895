"""Run and status through the handlers, routed as template.yaml routes them, against moto."""

from __future__ import annotations

import json
import time

from tests.support import load_event

PROPOSAL = {
    "customer": {"name": "Ada Lovelace", "address": "12 St James's Square, London"},
    "system_size_kw": 7.2,
    "module_count": 18,
    "module_model": "REC Alpha Pure-R 400",
    "annual_production_kwh": 8100,
    "price_per_watt": 2.85,
    "incentives": 2500,
    "electricity_rate_per_kwh": 0.31,
}


def test_run_accepts_well_formed_input_with_202_location_and_retry_after(harness):
    # Given a well-formed request for an action under a resource path
    reply = harness.run("acme", "/designs/d-1/proposal_pdf", PROPOSAL)

    # Then the job is accepted, queued, and the caller is told where and when to poll
    assert reply.status == 202
    job_id = reply.body["job_id"]
    assert reply.body["status"] == "queued"
    assert reply.headers["Location"] == f"/v2/tenants/acme/designs/d-1/proposal_pdf/status?job_id={job_id}"
    assert int(reply.headers["Retry-After"]) >= 1
    # And the job was stored before its message was sent, with its 7-day TTL attribute
    item = harness.item("acme", job_id)
    assert item["status"] == "queued" and item["path_params"] == {"design_id": "d-1"}
    assert abs(int(item["expires_at"]) - float(item["created_at"]) - 7 * 86400) < 1
    assert harness.queue_depth() == 1


def test_location_header_is_a_working_status_url(harness):
    reply = harness.run("acme", "/diagnostic", {})
    path, _, query = reply.headers["Location"].partition("?")
    status = harness.request("GET", path, query=dict([query.split("=")]))
    assert status.status == 200 and status.body["status"] == "queued"


def test_run_rejects_malformed_input_with_422_naming_each_field(harness):
    body = dict(PROPOSAL, system_size_kw=-3, colour="blue")
    del body["module_model"]

    reply = harness.run("acme", "/designs/d-1/proposal_pdf", body)

    assert reply.status == 422
    error = reply.body["error"]
    assert error["code"] == "validation_failed"
    fields = {d["field"]: d for d in error["details"]}
    assert set(fields) == {"system_size_kw", "module_model", "colour"}
    assert fields["module_model"]["message"] == "is required"
    assert "greater than 0" in fields["system_size_kw"]["message"]
    assert "remove it" in fields["colour"]["message"]
    for name in fields:
        assert f"`{name}`" in error["message"]  # the human-readable message names every field
    assert harness.queue_depth() == 0  # nothing was started


def test_nested_field_errors_name_the_full_path(harness):
    body = dict(PROPOSAL, customer={"name": ""})
    reply = harness.run("acme", "/designs/d-1/proposal_pdf", body)
    assert reply.status == 422
    assert [d["field"] for d in reply.body["error"]["details"]] == ["customer.name"]


def test_unknown_action_is_404(harness):
    reply = harness.run("acme", "/designs/d-1/teleport", {})
    assert reply.status == 404
    assert reply.body["error"]["code"] == "route_not_found"


def test_malformed_json_is_400_with_a_clear_message(harness):
    reply = harness.run("acme", "/diagnostic", None, raw=b'{"steps": 3,')
    assert reply.status == 400
    assert reply.body["error"] == {"code": "malformed_json", "message": "The request body is not valid JSON."}


def test_body_that_is_not_an_object_is_422(harness):
    reply = harness.run("acme", "/diagnostic", [1, 2])
    assert reply.status == 422
    assert reply.body["error"]["code"] == "validation_failed"


def test_key_used_on_a_malformed_tenant_path_is_403(harness):
    reply = harness.run("ac%20me", "/diagnostic", {}, key=harness.keys["acme"])
    assert reply.status == 403


def test_status_requires_job_id(harness):
    reply = harness.request("GET", "/v2/tenants/acme/diagnostic/status")
    assert reply.status == 422
    assert reply.body["error"]["details"][0]["field"] == "job_id"


def test_status_moves_queued_to_in_progress_to_succeeded_with_progress(harness):
    job_id = harness.submit(body={"duration_seconds": 1.2, "steps": 4, "echo": {"k": "v"}})
    assert harness.status("acme", "/diagnostic", job_id).body["status"] == "queued"

    worker = harness.execute_in_background()
    running = harness.wait_for(
        lambda: (
            (r := harness.status("acme", "/diagnostic", job_id).body)["status"] == "in_progress"
            and r["progress"] > 0
            and r
        )
    )
    assert 0 < running["progress"] < 100
    assert running["started_at"] and running["finished_at"] is None
    worker.join(timeout=10)

    done = harness.status("acme", "/diagnostic", job_id)
    assert done.status == 200
    doc = done.body
    assert doc["status"] == "succeeded" and doc["progress"] == 100
    assert doc["result"]["echo"] == {"k": "v"} and doc["result"]["steps"] == 4
    assert doc["created_at"] <= doc["started_at"] <= doc["finished_at"]
    assert "Retry-After" not in done.headers
    assert set(doc) >= {
        "job_id",
        "action",
        "status",
        "created_at",
        "started_at",
        "finished_at",
        "progress",
        "result",
        "expires_at",
    }


def test_action_error_fails_the_job_with_its_message_and_is_not_retried(harness):
    job_id = harness.submit(body={"fail_with": "action_error"})
    assert harness.execute() == 1  # one delivery: a failed action is not retried

    doc = harness.status("acme", "/diagnostic", job_id).body
    assert doc["status"] == "failed"
    assert doc["error"] == {
        "code": "diagnostic_failure",
        "message": "The diagnostic action failed as requested.",
    }
    assert "result" not in doc
    assert harness.item("acme", job_id)["attempts"] == 1
    assert harness.queue_depth() == 0


def test_unexpected_exception_fails_the_job_with_a_safe_message(harness):
    job_id = harness.submit(body={"fail_with": "exception"})
    harness.execute()

    doc = harness.status("acme", "/diagnostic", job_id).body
    assert doc["status"] == "failed"
    assert doc["error"]["code"] == "action_error"
    text = json.dumps(doc)
    assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert job_id in doc["error"]["message"]  # something to quote to support
    assert harness.item("acme", job_id)["attempts"] == 1


def test_proposal_pdf_is_stored_and_downloadable(harness):
    reply = harness.run("acme", "/designs/d-7/proposal_pdf", PROPOSAL)
    job_id = reply.body["job_id"]
    harness.execute()

    doc = harness.status("acme", "/designs/d-7/proposal_pdf", job_id).body
    assert doc["status"] == "succeeded", doc
    result = doc["result"]
    assert result["gross_price"] == 20520.0 and result["net_price"] == 18020.0
    assert result["pages"] >= 1
    (file,) = result["files"]
    assert "key" not in file  # where the bucket keeps it is not the caller's business
    assert "X-Amz-Signature=" in file["download_url"]
    key = f"results/acme/{job_id}/proposal.pdf"
    assert f"/{key}?" in file["download_url"]
    obj = harness.s3.get_object(Bucket=harness.env["RESULTS_BUCKET"], Key=key)
    data = obj["Body"].read()
    assert data.startswith(b"%PDF") and len(data) == file["size_bytes"]
    assert obj["ContentType"] == "application/pdf"


def test_status_of_a_job_started_elsewhere(harness):
    # A job started by another client (e.g. a UI) is readable by anyone of the tenant with its id.
    job_id = harness.submit(tenant="acme")
    harness.execute()
    assert harness.status("acme", "/diagnostic", job_id).body["status"] == "succeeded"


def test_other_tenants_job_is_404(harness):
    job_id = harness.submit(tenant="acme")
    reply = harness.status("globex", "/diagnostic", job_id)
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"


def test_other_actions_job_is_404(harness):
    job_id = harness.submit(tenant="acme", action_path="/diagnostic")
    assert harness.status("acme", "/designs/d-1/proposal_pdf", job_id).status == 404


def test_other_resources_job_is_404(harness):
    job_id = harness.run("acme", "/designs/d-1/proposal_pdf", PROPOSAL).body["job_id"]
    assert harness.status("acme", "/designs/d-2/proposal_pdf", job_id).status == 404
    assert harness.status("acme", "/designs/d-1/proposal_pdf", job_id).status == 200


def test_unknown_and_malformed_job_ids_are_404(harness):
    harness.submit()
    assert harness.status("acme", "/diagnostic", "0190aaaa-0000-7000-8000-000000000000").status == 404
    assert harness.status("acme", "/diagnostic", "not-a-job").status == 404


def test_job_past_seven_days_is_404_while_its_item_still_exists(harness):
    job_id = harness.submit()
    harness.execute()
    # DynamoDB deletes expired items only eventually; moto never does. Age the item past its TTL.
    harness.ddb.update_item(
        TableName=harness.env["JOBS_TABLE"],
        Key=harness.job_key("acme", job_id),
        UpdateExpression="SET expires_at = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - 1)}},
    )
    assert harness.item("acme", job_id) is not None
    assert harness.status("acme", "/diagnostic", job_id).status == 404
    listed = harness.request("GET", "/v2/tenants/acme/jobs").body["jobs"]
    assert job_id not in [j["job_id"] for j in listed]


def test_sample_events_drive_the_handlers(harness):
    """The samples in events/ (for `sam local invoke -e`) are accepted by their functions."""
    from devstack.lambda_runtime import LambdaContext, json_body

    run = harness.handlers["RunFunction"](load_event("run.json"), LambdaContext("run"))
    assert run["statusCode"] == 202, run
    status = harness.handlers["StatusFunction"](load_event("status.json"), LambdaContext("status"))
    assert status["statusCode"] == 404  # the sample's job id does not exist in a fresh stack
    assert json_body(status)["error"]["code"] == "not_found"
    sample = load_event("executor.json")
    job_id = json.loads(sample["Records"][0]["body"])["job_id"]
    harness.submit_item(job_id, {"steps": 1})
    executor = harness.handlers["ExecutorFunction"](sample, LambdaContext("executor", 1024, 300))
    assert executor == {"batchItemFailures": []}
    assert harness.item("acme", job_id)["status"] == "succeeded"
    reconciler = harness.handlers["ReconcilerFunction"](
        load_event("reconciler.json"), LambdaContext("reconciler", 512, 20)
    )
    assert reconciler == {"batchItemFailures": []}  # the sample's job ended: announced again


def test_queue_send_failure_is_503_and_stores_no_job(harness):
    harness.fail_calls("sqs", "SendMessage", times=1, code="AWS.SimpleQueueService.ServiceUnavailable")

    reply = harness.run("acme", "/diagnostic", {})

    assert reply.status == 503
    assert reply.body["error"]["code"] == "service_unavailable"
    assert "nothing will run" in reply.body["error"]["message"]
    assert reply.headers["Retry-After"]
    assert harness.request("GET", "/v2/tenants/acme/jobs").body["jobs"] == []
    assert harness.queue_depth() == 0


def test_table_write_failure_is_503_and_its_message_runs_nothing(harness):
    harness.fail_calls("dynamodb", "PutItem", times=1, code="InternalServerError")
    reply = harness.run("acme", "/diagnostic", {})
    assert reply.status == 503 and reply.headers["Retry-After"]
    assert "nothing will run" in reply.body["error"]["message"]
    # The message was sent before the store failed: it finds no job and is dropped.
    harness.execute()
    assert harness.queue_depth() == 0
    assert harness.request("GET", "/v2/tenants/acme/jobs").body["jobs"] == []


def test_status_read_failure_is_503_not_500(harness):
    job_id = harness.submit()
    harness.fail_calls("dynamodb", "GetItem", times=1, code="InternalServerError")
    reply = harness.status("acme", "/diagnostic", job_id)
    assert reply.status == 503 and reply.body["error"]["code"] == "service_unavailable"


def test_status_costs_one_read(harness):
    job_id = harness.submit()
    harness.execute()
    calls = []
    from asyncjobs.aws import clients as aws

    aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    assert harness.status("acme", "/diagnostic", job_id).status == 200
    assert calls == ["GetItem"]


def test_body_that_is_not_json_content_is_415(harness):
    reply = harness.run(
        "acme", "/diagnostic", None, raw=b'{"steps": 4}', headers={"content-type": "text/plain"}
    )
    assert reply.status == 415
    assert reply.body["error"]["code"] == "unsupported_media_type"
