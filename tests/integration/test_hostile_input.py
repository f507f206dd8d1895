"""Hostile request bodies and path parameters (issue 9): every one is a clear 4xx in the error
model, on every route that takes a JSON body, and whatever run accepts, the executor can run."""

from __future__ import annotations

import pytest

from asyncjobs.http.gate import MAX_JSON_DEPTH, MAX_JSON_INT_DIGITS

SUB = "sub_" + "0" * 32
# Every route that accepts a JSON body (cancel takes none, but a body sent to it is still read).
JSON_ROUTES = [
    ("POST", "/v2/tenants/acme/diagnostic/run"),
    ("POST", "/v2/tenants/acme/designs/d-1/proposal_pdf/run"),
    ("POST", "/v2/tenants/acme/jobs/0190a000-0000-7000-8000-000000000000/cancel"),
    ("POST", "/v2/tenants/acme/webhooks"),
    ("PATCH", f"/v2/tenants/acme/webhooks/{SUB}"),
    ("POST", f"/v2/tenants/acme/webhooks/{SUB}/rotate-secret"),
    ("POST", f"/v2/tenants/acme/webhooks/{SUB}/recover"),
]


def nested(depth: int) -> str:
    """A diagnostic run body whose nesting (the body object itself counting as 1) is `depth`."""
    inner = depth - 2
    return '{"echo":' + '{"a":' * inner + "{}" + "}" * inner + "}"


def assert_error(reply, status: int, code: str, *words: str) -> dict:
    assert reply.status == status, reply.body
    error = reply.body["error"]
    assert error["code"] == code
    for word in words:
        assert word in error["message"], error["message"]
    return error


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_huge_integer_is_422_naming_the_limit(harness, method, path):
    raw = b'{"echo": {"n": ' + b"7" * 5000 + b"}}"
    reply = harness.request(method, path, raw=raw)
    error = assert_error(reply, 422, "validation_failed", "5000 digits", f"{MAX_JSON_INT_DIGITS} digits")
    assert error["details"][0]["location"] == "body"


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_deep_nesting_is_422_naming_the_limit(harness, method, path):
    reply = harness.request(method, path, raw=("[" * 300 + "]" * 300).encode())
    assert_error(reply, 422, "validation_failed", "300 levels", f"{MAX_JSON_DEPTH} levels")


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_lone_surrogate_is_400_malformed_json(harness, method, path):
    reply = harness.request(method, path, raw=b'{"description": "\\ud800 x"}')
    assert_error(reply, 400, "malformed_json", "surrogate")


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        ("NaN", 400, "malformed_json"),  # not JSON, though Python's json module accepts it
        ("Infinity", 400, "malformed_json"),
        ("-Infinity", 400, "malformed_json"),
        ("1e999", 422, "validation_failed"),  # JSON, but out of a 64-bit float's range
    ],
)
def test_non_finite_numbers_are_refused(harness, number, status, code):
    reply = harness.request(
        "POST", "/v2/tenants/acme/diagnostic/run", raw=f'{{"echo": {{"x": {number}}}}}'.encode()
    )
    assert reply.status == status, reply.body
    assert reply.body["error"]["code"] == code
    assert harness.queue_depth() == 0


def test_the_deepest_accepted_input_runs_and_one_level_deeper_is_refused(harness):
    ok = harness.request("POST", "/v2/tenants/acme/diagnostic/run", raw=nested(MAX_JSON_DEPTH).encode())
    assert ok.status == 202, ok.body
    harness.execute()
    doc = harness.status("acme", "/diagnostic", ok.body["job_id"]).body
    assert doc["status"] == "succeeded", doc

    deeper = harness.request(
        "POST", "/v2/tenants/acme/diagnostic/run", raw=nested(MAX_JSON_DEPTH + 1).encode()
    )
    assert_error(deeper, 422, "validation_failed", f"{MAX_JSON_DEPTH + 1} levels", f"{MAX_JSON_DEPTH} levels")


@pytest.mark.parametrize("depth", [200, 255])
def test_nesting_the_executor_could_not_parse_is_refused_at_run(harness, depth):
    reply = harness.request("POST", "/v2/tenants/acme/diagnostic/run", raw=nested(depth).encode())
    assert_error(reply, 422, "validation_failed", f"{MAX_JSON_DEPTH} levels")
    assert harness.queue_depth() == 0


def test_largest_accepted_integer_runs(harness):
    raw = b'{"echo": {"n": ' + b"9" * MAX_JSON_INT_DIGITS + b"}}"
    ok = harness.request("POST", "/v2/tenants/acme/diagnostic/run", raw=raw)
    assert ok.status == 202, ok.body
    harness.execute()
    doc = harness.status("acme", "/diagnostic", ok.body["job_id"]).body
    assert doc["status"] == "succeeded" and doc["result"]["echo"]["n"] == int("9" * MAX_JSON_INT_DIGITS)


@pytest.mark.parametrize("job_id", ["x" * 300, "0190a000-0000-7000-8000-000000000000\n", "a b", "é"])
def test_junk_job_id_on_cancel_is_422_naming_it(harness, job_id):
    from urllib.parse import quote

    reply = harness.request("POST", f"/v2/tenants/acme/jobs/{quote(job_id, safe='')}/cancel")
    error = assert_error(reply, 422, "validation_failed", "`job_id`")
    assert job_id.strip() not in error["message"]  # the junk is not echoed back


@pytest.mark.parametrize("job_id", ["x" * 300, "0190a000-0000-7000-8000-000000000000\n", "a b", "é"])
def test_junk_job_id_on_status_is_422_naming_it(harness, job_id):
    reply = harness.status("acme", "/diagnostic", job_id)
    assert_error(reply, 422, "validation_failed", "`job_id`")


def test_job_id_like_tokens_that_are_no_job_ids_stay_404(harness):
    for job_id in ("not-a-job", "0190a000-0000-7000-8000-000000000000"):
        assert harness.status("acme", "/diagnostic", job_id).status == 404
        assert harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel").status == 404
