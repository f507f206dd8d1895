"""Fuzzing: schemathesis generates requests from the served OpenAPI document and sends them over
HTTP to a local stack of their own. No request may cause a 5xx, every status must be one the
document lists for the operation, and every response (2xx and errors) must match the schema the
document gives it. Explicit hostile inputs (issue 9) share the same stack; the last test checks
every status the stack answered over the whole module against the document."""

from __future__ import annotations

import json
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from asyncjobs.http.gate import MAX_JSON_DEPTH
from tests.e2e.client import LocalStackProcess
from tests.e2e.openapi_coverage import answered, undocumented
from tests.support import ROOT

schema = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    if __import__("os").environ.get("E2E_BASE_URL"):
        pytest.skip("fuzzing runs against a local stack of its own")
    with LocalStackProcess(ROOT / "template.yaml", tmp_path_factory.mktemp("fuzz"), retry_after=1) as stack:
        stack.key = stack.create_key("fuzz")
        yield stack
    assert stack.returncode == 0


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_stack):
    return schemathesis.openapi.from_url(f"{fuzz_stack.base_url}/openapi.json")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_errors_match_the_documented_schema(case, fuzz_stack):
    # The caller's own tenant (another tenant's path is a 403, tested elsewhere), and receivers on
    # loopback: a generated host name would send the SSRF check to DNS.
    if "tenant_id" in (case.path_parameters or {}):
        case.path_parameters["tenant_id"] = "fuzz"
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = "http://127.0.0.1:9/hook"
    case.call_and_validate(
        base_url=fuzz_stack.base_url,
        headers={"Authorization": f"Bearer {fuzz_stack.key}"},
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )


# Hostile bodies that once caused 5xx (issue 9), sent over real HTTP: each must be a 4xx in the
# error model on every route that takes a JSON body.
JSON_ROUTES = [
    ("POST", "/v2/tenants/fuzz/diagnostic/run"),
    ("POST", "/v2/tenants/fuzz/designs/d-1/proposal_pdf/run"),
    ("POST", "/v2/tenants/fuzz/jobs/0190a000-0000-7000-8000-000000000000/cancel"),
    ("POST", "/v2/tenants/fuzz/webhooks"),
    ("PATCH", "/v2/tenants/fuzz/webhooks/sub_" + "0" * 32),
]
HOSTILE_BODIES = {
    "huge integer": b'{"echo": {"n": ' + b"7" * 5000 + b"}}",
    "nesting 256 deep": b"[" * 256 + b"]" * 256,
    "echo nested 256 deep": b'{"echo":' + b'{"a":' * 254 + b"{}" + b"}" * 255,
    "nesting 100000 deep": b"[" * 100_000,
    "lone surrogate": b'{"echo": {"s": "\\ud800"}}',
    "lone surrogate key": b'{"echo": {"\\udfff": 1}}',
    "NaN": b'{"echo": {"x": NaN}}',
    "float overflow": b'{"echo": {"x": 1e999}}',
}


def _call(stack, method, path, body):
    return requests.request(
        method,
        stack.base_url + path,
        data=body,
        headers={"Authorization": f"Bearer {stack.key}", "Content-Type": "application/json"},
        timeout=30,
    )


def assert_client_error(resp):
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    error = resp.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    return error


@pytest.mark.parametrize("name", HOSTILE_BODIES)
@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_hostile_bodies_are_4xx_on_every_json_route(fuzz_stack, method, path, name):
    error = assert_client_error(_call(fuzz_stack, method, path, HOSTILE_BODIES[name]))
    assert error["code"] in ("malformed_json", "validation_failed")


def _nested_run(depth):
    inner = depth - 2
    return ('{"echo":' + '{"a":' * inner + "{}" + "}" * inner + "}").encode()


def test_nesting_at_the_limit_runs_and_one_deeper_is_refused(fuzz_stack):
    ok = _call(fuzz_stack, "POST", "/v2/tenants/fuzz/diagnostic/run", _nested_run(MAX_JSON_DEPTH))
    assert ok.status_code == 202, ok.text
    deadline = time.monotonic() + 30
    while (doc := _call(fuzz_stack, "GET", ok.headers["Location"], None).json())["status"] in (
        "queued",
        "in_progress",
    ):
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    assert doc["status"] == "succeeded", doc

    deeper = _call(fuzz_stack, "POST", "/v2/tenants/fuzz/diagnostic/run", _nested_run(MAX_JSON_DEPTH + 1))
    error = assert_client_error(deeper)
    assert deeper.status_code == 422 and f"limit is {MAX_JSON_DEPTH} levels" in error["message"]


def test_webhook_host_label_errors_are_4xx(fuzz_stack):
    # An empty label or one of 64+ characters makes the IDNA codec raise during DNS resolution.
    for url in (
        "http://a..b/hook",
        "http://" + "a" * 64 + ".com/hook",
        "https://a..b/hook",
        "https://" + "a" * 64 + ".com/hook",
    ):
        body = json.dumps({"url": url, "events": ["job.succeeded"]}).encode()
        resp = _call(fuzz_stack, "POST", "/v2/tenants/fuzz/webhooks", body)
        assert_client_error(resp)


def test_every_status_answered_over_the_module_is_documented(fuzz_stack):
    # Given every request this module sent (the fuzz run, the hostile bodies), as the stack logged them
    doc = requests.get(f"{fuzz_stack.base_url}/openapi.json", timeout=30).json()
    answers = answered(fuzz_stack.log())
    assert answers
    # Then each status an operation answered is one the document lists for it
    assert undocumented(doc, answers) == {}
