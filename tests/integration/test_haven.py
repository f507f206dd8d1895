"""The Haven routes (HavenFunction) against moto, routed as the template routes them: submits,
reads and waits go through the job core, so a Haven job is an ordinary job of the tenant."""

from __future__ import annotations

import json

import pytest

from asyncjobs.haven.auth import TTL_S, ApiKeys
from asyncjobs.haven.errors import HavenError
from tests.unit.test_haven_unit import pdf_with

HIGHLIGHT = {"text": "highlighted text", "highlight_expression": "highlighted"}
SPAN = '<span class="highlight">'


@pytest.fixture
def key(harness):
    return harness.keys["acme"]


def test_async_then_status_the_job_is_an_ordinary_job_of_the_tenant(harness, key):
    # Given an async call as Haven documents it (GET, query parameters, apikey)
    reply = harness.haven("GET", "/1/api/async/highlight/v1", query={**HIGHLIGHT, "apikey": key})
    assert reply.status == 200, reply.body
    job_id = reply.body["jobID"]

    # When it is queued, then its status is Haven's, and /v2 lists it as the tenant's job
    queued = harness.haven("GET", f"/1/job/status/{job_id}", query={"apikey": key}).body
    assert queued == {
        "actions": [{"action": "highlight", "version": "v1", "status": "queued"}],
        "jobID": job_id,
        "status": "queued",
    }
    listed = harness.request("GET", "/v2/tenants/acme/jobs").body["jobs"]
    assert [j["job_id"] for j in listed] == [job_id]

    # When it has run, then status and result show its result
    harness.execute()
    for route in ("status", "result"):
        done = harness.haven("GET", f"/1/job/{route}/{job_id}", query={"apikey": key})
        assert done.status == 200
        assert done.body["status"] == "finished"
        assert done.body["actions"][0]["result"] == {"text": f"{SPAN}highlighted</span> text"}


def test_sync_returns_the_result_when_the_job_ends_in_time(harness, key):
    with harness.executor_running():
        reply = harness.haven("POST", "/1/api/sync/highlight/v1", form={**HIGHLIGHT, "apikey": key})
    assert reply.status == 200, reply.body
    assert reply.body == {"text": f"{SPAN}highlighted</span> text"}


def test_sync_past_the_cap_answers_7010_with_the_job_id_and_the_job_goes_on(harness, key):
    # Given a function with 3 s left (so it waits 1 s) and no executor running
    reply = harness.haven("GET", "/1/api/sync/highlight/v1", query={**HIGHLIGHT, "apikey": key}, timeout_s=3)

    # Then the answer is the timeout error carrying the job, which later finishes and is fetchable
    assert reply.status == 202 and reply.body["error"] == 7010, reply.body
    job_id = reply.body["jobID"]
    assert reply.headers["Location"] == f"/1/job/status/{job_id}"
    harness.execute()
    done = harness.haven("GET", f"/1/job/result/{job_id}", query={"apikey": key}).body
    assert done["status"] == "finished"


def test_sync_whose_wait_fails_answers_7010_with_the_job_id_not_a_retry(harness, key):
    # Given a key verified (and cached) just before, then the job store failing every read
    assert harness.haven("GET", "/1/api/async/highlight/v1", query={**HIGHLIGHT, "apikey": key}).status == 200
    harness.fail_calls("dynamodb", "GetItem", times=1000, code="ServiceUnavailable")
    # When a sync call's wait fails, then the caller gets the accepted job's id (not 5000: a retry
    # would start the job again)
    reply = harness.haven("GET", "/1/api/sync/highlight/v1", query={**HIGHLIGHT, "apikey": key})
    assert reply.status == 202 and reply.body["error"] == 7010 and reply.body["jobID"], reply.body


def test_a_result_call_that_times_out_answers_the_current_status(harness, key):
    job_id = harness.haven("GET", "/1/api/async/highlight/v1", query={**HIGHLIGHT, "apikey": key}).body[
        "jobID"
    ]
    reply = harness.haven("GET", f"/1/job/result/{job_id}", query={"apikey": key}, timeout_s=3)
    assert reply.status == 200 and reply.body["status"] == "queued"


def test_sync_failure_is_the_actions_haven_error_with_the_job(harness, key):
    with harness.executor_running():
        reply = harness.haven(
            "GET", "/1/api/sync/diagnostic/v1", query={"fail_with": "action_error", "apikey": key}
        )
    assert reply.status == 400, reply.body
    assert reply.body["error"] == 7100 and reply.body["jobID"]
    assert reply.body["detail"]["code"] == "diagnostic_failure"


def test_a_job_of_three_actions_with_one_failing(harness, key):
    # Given a /1/job form with three actions, the middle one failing
    job = {
        "actions": [
            {"name": "highlight", "version": "v1", "params": HIGHLIGHT},
            {"name": "diagnostic", "version": "v1", "params": {"fail_with": "action_error"}},
            {"name": "highlight", "version": "v1", "params": {"text": "a b", "highlight_expression": "b"}},
        ]
    }
    reply = harness.haven("POST", "/1/job", form={"apikey": key, "job": json.dumps(job)})
    assert reply.status == 200, reply.body

    # When it has run, then each action has its own outcome and the job is finished
    harness.execute()
    body = harness.haven("GET", f"/1/job/status/{reply.body['jobID']}", query={"apikey": key}).body
    assert [a["status"] for a in body["actions"]] == ["finished", "failed", "finished"]
    assert body["status"] == "finished"
    failed = body["actions"][1]
    assert failed["error"]["error"] == 7100 and failed["errors"] == [failed["error"]]
    assert body["actions"][2]["result"] == {"text": f"a {SPAN}b</span>"}


def test_files_in_multipart_requests(harness, key):
    # Given a PDF sent as `file` on /1/api, and as `file1` referenced by a /1/job action
    pdf = pdf_with("Quarterly report")
    one = harness.haven(
        "POST",
        "/1/api/async/extracttext/v1",
        form={"apikey": key},
        files={"file": ("report.pdf", pdf, "application/pdf")},
    )
    job = {
        "actions": [
            {"name": "extracttext", "version": "v1", "params": {"file": "file1"}},
            # a text that reads like a file field stays text: `text` takes no file
            {
                "name": "highlight",
                "version": "v1",
                "params": {"text": "file1", "highlight_expression": "file1"},
            },
        ]
    }
    two = harness.haven(
        "POST",
        "/1/job",
        form={"apikey": key, "job": json.dumps(job)},
        files={"file1": ("notes.txt", b"plain notes", "text/plain")},
    )
    assert one.status == 200 and two.status == 200, (one.body, two.body)

    # When they have run, then the text of each file is extracted
    harness.execute()
    first = harness.haven("GET", f"/1/job/status/{one.body['jobID']}", query={"apikey": key}).body
    assert "Quarterly report" in first["actions"][0]["result"]["document"][0]["content"]
    second = harness.haven("GET", f"/1/job/status/{two.body['jobID']}", query={"apikey": key}).body
    assert second["actions"][0]["result"]["document"][0]["content"] == "plain notes"
    assert second["actions"][1]["result"] == {"text": f"{SPAN}file1</span>"}


def test_idempotency_key_replays_the_first_job(harness, key):
    headers = {"Idempotency-Key": "haven-1"}
    query = {**HIGHLIGHT, "apikey": key}
    first = harness.haven("GET", "/1/api/async/highlight/v1", query=query, headers=headers)
    again = harness.haven("GET", "/1/api/async/highlight/v1", query=query, headers=headers)
    assert first.status == again.status == 200 and first.body == again.body
    other = harness.haven("GET", "/1/api/async/highlight/v1", query={**query, "text": "x"}, headers=headers)
    assert other.status == 400 and other.body["error"] == 4010


def test_another_tenants_job_is_unknown(harness, key):
    job_id = harness.haven("GET", "/1/api/async/highlight/v1", query={**HIGHLIGHT, "apikey": key}).body[
        "jobID"
    ]
    reply = harness.haven("GET", f"/1/job/status/{job_id}", query={"apikey": harness.keys["globex"]})
    assert reply.status == 404 and reply.body["error"] == 7001


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "code"),
    [
        ("GET", "/1/api/sync/highlight/v1", {"apikey": None}, 401, 2000),
        ("GET", "/1/api/sync/highlight/v1", {"apikey": "ajk_wrong"}, 401, 2002),
        ("GET", "/1/api/sync/nosuch/v1", {}, 404, 4004),
        ("GET", "/1/api/sync/highlight/v2", {}, 404, 4005),
        ("GET", "/1/api/async/highlight/v1", {"text": "", "highlight_expression": "a"}, 400, 4006),
        ("GET", "/1/api/async/highlight/v1", {"text": "a"}, 400, 4008),
        ("POST", "/1/job", {"job": "{not json"}, 400, 4010),
        ("GET", "/1/job", {}, 405, 4014),
        ("GET", "/1/nothing/here", {}, 404, 4040),
        ("GET", "/1/job/status/not-a-job", {}, 404, 7001),
        ("GET", "/1/job/result/01a20000-0000-7000-8000-000000000001", {}, 404, 7001),
    ],
)
def test_errors(harness, key, method, path, params, status, code):
    params = {"apikey": key, **params}
    params = {k: v for k, v in params.items() if v is not None}
    if method == "GET":
        reply = harness.haven(method, path, query=params)
    else:
        reply = harness.haven(method, path, form=params)
    assert reply.status == status and reply.body["error"] == code, reply.body
    assert set(reply.body) >= {"error", "reason", "detail"}


def test_a_json_body_is_not_a_haven_request(harness, key):
    reply = harness.request(
        "POST", "/1/api/async/highlight/v1", body=HIGHLIGHT, query={"apikey": key}, key=None
    )
    assert reply.status == 415 and reply.body["error"] == 4015


def test_the_key_store_failing_answers_503_and_is_not_cached(harness, key):
    harness.fail_calls("dynamodb", "GetItem", times=1, code="ServiceUnavailable")
    query = {**HIGHLIGHT, "apikey": key}
    failed = harness.haven("GET", "/1/api/async/highlight/v1", query=query)
    assert failed.status == 503 and failed.body["error"] == 5000 and failed.headers["Retry-After"]
    assert harness.haven("GET", "/1/api/async/highlight/v1", query=query).status == 200


def test_a_verified_key_is_cached_at_most_as_long_as_the_authorizer_caches_one(harness, translated):
    # Given a verified key, cached
    now = [1000.0]
    keys = ApiKeys(lambda: harness.tenants, clock=lambda: now[0])
    key_id, key = harness.tenants.create_key("acme", "revoked soon")
    assert keys.principal(key).tenant_id == "acme"

    # When it is revoked, then it works until the cache entry ends, and not after
    harness.tenants.revoke_key("acme", key_id)
    now[0] += TTL_S - 1
    assert keys.principal(key).tenant_id == "acme"
    now[0] += 2
    with pytest.raises(HavenError) as exc:
        keys.principal(key)
    assert exc.value.code == 2002
    # And that bound is the bearer authorizer's own cache time
    authorizer = translated.sam["Resources"]["JobsApi"]["Properties"]["Auth"]["Authorizers"][
        "ApiKeyAuthorizer"
    ]
    assert authorizer["Identity"]["ReauthorizeEvery"] == TTL_S


def test_the_template_routes_1_to_haven_without_an_authorizer_within_the_gateways_timeout(translated):
    from asyncjobs.jobs.use_cases import MAX_WAIT_S
    from devstack.routes import http_routes, match_route

    route, _ = match_route(http_routes(translated), "POST", "/1/api/sync/highlight/v1")
    assert route.function == "HavenFunction" and route.authorizer is None
    timeout = translated.sam["Resources"]["HavenFunction"]["Properties"]["Timeout"]
    assert MAX_WAIT_S < timeout < 30  # API Gateway's integration timeout


def test_the_sample_event_drives_the_function(harness):
    """events/haven.json (for `sam local invoke -e`): its key is not a stored one, so 2002."""
    from devstack.lambda_runtime import LambdaContext, json_body
    from tests.support import load_event

    reply = harness.handlers["HavenFunction"](load_event("haven.json"), LambdaContext("haven", 512, 29))
    assert reply["statusCode"] == 401 and json_body(reply)["error"] == 2002
