"""The OpenAPI document the local stack serves: valid, the committed copy, readable by a standard
client generator, and true about statuses both ways (every status an operation is documented
with is answered by some request here; every status answered here is documented, its body
matching the documented schema)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.e2e.openapi_coverage import answered, covered, operation_of, undocumented
from tests.support import ROOT


@pytest.fixture(scope="module")
def served(api, local):
    resp = requests.get(f"{api.base_url}/openapi.json", timeout=30)
    assert resp.status_code == 200
    return resp.json()


def test_the_served_document_is_valid_and_is_the_committed_one(served):
    # Given the document the running stack serves, when openapi-spec-validator reads it, it passes
    validate(served)
    # and apart from its server URL it is docs/openapi.json (`make openapi`)
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert {k: v for k, v in served.items() if k != "servers"} == committed


# -- a generated client ----------------------------------------------------------------------

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def _generated_client(doc: dict, where: Path):
    """The package openapi-python-client generates from `doc`, imported as `generated_asyncjobs` (not
    under its default name, `asyncjobs_client`: that is the project's own client, in `client/`)."""
    spec_file, config = where / "openapi.json", where / "config.json"
    spec_file.write_text(json.dumps(doc))
    config.write_text(json.dumps({"post_hooks": [], "package_name_override": "generated_asyncjobs"}))
    out = subprocess.run(
        [
            *(str(GENERATOR), "generate", "--path", str(spec_file), "--meta", "none"),
            *("--output-path", str(where / "generated_asyncjobs"), "--config", str(config)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=where,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # Warnings name the parts of the document it skipped: none may be skipped.
    assert "Warning" not in out.stdout + out.stderr, out.stdout + out.stderr
    package = where / "generated_asyncjobs"
    spec = importlib.util.spec_from_file_location(
        "generated_asyncjobs", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generated_asyncjobs"] = module
    spec.loader.exec_module(module)
    return module


def test_a_generated_client_reads_a_finished_job_as_a_typed_object(api, served, tmp_path):
    # Given a client generated from the served document by openapi-python-client
    try:
        client_pkg = _generated_client(served, tmp_path)
        run_diagnostic = importlib.import_module("generated_asyncjobs.api.actions.run_diagnostic")
        get_job = importlib.import_module("generated_asyncjobs.api.jobs.get_job")
        models = importlib.import_module("generated_asyncjobs.models")
        client = client_pkg.AuthenticatedClient(base_url=api.base_url, token=api.key)

        # When it runs a diagnostic job and reads it until it has ended
        accepted = run_diagnostic.sync(
            tenant_id=api.tenant, client=client, body=models.DiagnosticInput(steps=1)
        )
        assert isinstance(accepted, models.RunAccepted), accepted
        deadline = time.monotonic() + 15
        while (job := get_job.sync(tenant_id=api.tenant, job_id=accepted.job_id, client=client)).status in (
            models.JobStatus.QUEUED,
            models.JobStatus.IN_PROGRESS,
        ):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)

        # Then the job is the generated model, its fields typed
        assert isinstance(job, models.JobDocument)
        assert job.status == "succeeded" and job.job_id == accepted.job_id and job.progress == 100
        assert isinstance(job.created_at, datetime) and job.created_at.tzinfo is not None
        assert job.created_at.utcoffset() == UTC.utcoffset(None)
        assert job.created_at <= job.started_at <= job.finished_at < job.expires_at
        assert job.result["steps"] == 1
    finally:
        for name in [
            m for m in sys.modules if m == "generated_asyncjobs" or m.startswith("generated_asyncjobs.")
        ]:
            del sys.modules[name]


# -- documented statuses, both ways ----------------------------------------------------------

# Documented statuses no deterministic request here can cause, and where they are exercised.
NOT_CAUSED_HERE = {
    429: "API Gateway's stage throttling: a deployed stack only",
    503: "a dependency failing: tests/e2e/test_faults.py injects the failures",
}
NOT_CAUSED_FOR = {
    ("POST", "/v2/tenants/{tenant_id}/{action}/run", 409): "an Idempotency-Key retried while the first "
    "is being accepted: a race (test_tenancy.py::test_concurrent_requests_with_one_key_start_one_job)",
    ("POST", "/v2/tenants/{tenant_id}/jobs", 409): "the same race as a run's",
    ("PATCH", "/v2/tenants/{tenant_id}/webhooks/{sub_id}", 409): "concurrent changes that keep racing",
    ("POST", "/v2/tenants/{tenant_id}/webhooks/{sub_id}/deliveries/{delivery_id}/redeliver", 409): "an "
    "attempt being made at that moment: a race",
    ("GET", "/1/api/sync/{action}/{version}", 202): "a job longer than the 25 s cap "
    "(test_haven_e2e.py::test_sync_past_the_cap_gives_the_job_id_and_the_job_finishes)",
    ("POST", "/1/api/sync/{action}/{version}", 202): "as GET's",
    ("GET", "/1/api/sync/{action}/{version}", 413): "a file id naming a file over the action's limit",
    ("GET", "/1/api/async/{action}/{version}", 413): "as sync's",
}
for _method, _path in [
    ("GET", "/1/api/sync/{action}/{version}"),
    ("POST", "/1/api/sync/{action}/{version}"),
    ("GET", "/1/api/async/{action}/{version}"),
    ("POST", "/1/api/async/{action}/{version}"),
    ("POST", "/1/job"),
]:
    NOT_CAUSED_FOR[(_method, _path, 409)] = "an Idempotency-Key in flight (4409), or a job cancelled while a "
    "sync call waits (7102): races"


def _family(path: str) -> str:
    """Every action's run (or status) route is one handler with the same statuses: counted as one."""
    for suffix in ("/run", "/status"):
        if path.startswith("/v2/tenants/{tenant_id}/") and path.endswith(suffix) and "/jobs" not in path:
            return "/v2/tenants/{tenant_id}/{action}" + suffix
    return path


TENANT = "{tenant_id}"
UNKNOWN = {
    "job_id": "0190a000-0000-7000-8000-000000000000",
    "file_id": "file_" + "0" * 32,
    "sub_id": "sub_" + "0" * 32,
    "delivery_id": "0190a000-0000-7000-8000-000000000000.succeeded",
    "design_id": "d-1",
    "jobID": "0190a000-0000-7000-8000-000000000000",
    "action": "highlight",
    "version": "v1",
}
VALID_BODIES = {
    "/v2/tenants/{tenant_id}/webhooks/{sub_id}": {},
    "/v2/tenants/{tenant_id}/webhooks/{sub_id}/rotate-secret": {},
    "/v2/tenants/{tenant_id}/webhooks/{sub_id}/recover": {"since": "2026-01-01T00:00:00Z"},
}


def _fill(path: str, tenant: str, values: dict[str, str]) -> str:
    out = path.replace(TENANT, tenant)
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


def _v2_errors(api, doc: dict, other: requests.Session) -> None:
    """For each /v2 operation, a request for each error status that any request of that shape gets."""
    for path, operations in doc["paths"].items():
        if not path.startswith("/v2/"):
            continue
        for method in operations:
            url = api.base_url + _fill(path, api.tenant, UNKNOWN)
            other.request(method, url, timeout=30)  # 401: no Authorization (API Gateway)
            api.http.request(method, api.base_url + _fill(path, "someone-else", UNKNOWN), timeout=30)  # 403
            if method in ("post", "patch"):
                for data, kind in (
                    (b"{", "application/json"),  # 400
                    (b'{"x": "' + b"a" * 300_000 + b'"}', "application/json"),  # 413
                    (b"x", "text/plain"),  # 415
                    (b"[" * 70 + b"]" * 70, "application/json"),  # 422, past the JSON depth limit
                ):
                    api.http.request(method, url, data=data, headers={"Content-Type": kind}, timeout=30)
            else:  # 422: every parameter past the tenant invalid, and a query the lists refuse
                bad = _fill(path, api.tenant, {k: "bad!" for k in UNKNOWN})
                api.http.request(method, api.base_url + bad + "?limit=0", timeout=30)
            # 404 where there is one: unknown ids, with a valid body
            params = {"job_id": UNKNOWN["job_id"]} if method == "get" else None  # the status routes'
            api.http.request(method, url, json=VALID_BODIES.get(path), params=params, timeout=30)


def _v2_successes(api) -> None:
    t = f"/v2/tenants/{api.tenant}"
    run = api.run("/diagnostic", {"steps": 1})
    assert run.status == 202, run.text
    job_id = run.body["job_id"]
    api.wait(run.headers["Location"])
    api.request("GET", f"{t}/jobs/{job_id}")
    api.request("GET", f"{t}/jobs", params={"limit": 1})
    assert api.request("POST", f"{t}/jobs/{job_id}/cancel").status == 409  # it has ended
    api.run("/diagnostic", {}, headers={"Prefer": "wait=10"})  # 200: ended within the wait
    multi = {"actions": [{"name": "diagnostic"}]}
    api.request("POST", f"{t}/jobs", json=multi)  # 202
    api.request("POST", f"{t}/jobs", json=multi, headers={"Prefer": "wait=10"})  # 200
    running = api.run("/diagnostic", {"duration_seconds": 30, "steps": 30})
    deadline = time.monotonic() + 15
    while api.request("GET", running.headers["Location"]).body["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.request("POST", f"{t}/jobs/{running.body['job_id']}/cancel").status == 202  # running
    assert api.wait(running.headers["Location"])["status"] == "cancelled"
    assert api.request("POST", f"{t}/jobs/{running.body['job_id']}/cancel").status == 200  # cancelled
    # files: a form (201), the file sent with it, then described (200)
    slot = api.request("POST", f"{t}/files", json={"name": "a.txt"})
    form = slot.body["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("a.txt", b"hello")}, timeout=30)
    assert sent.status_code in (200, 201, 204), sent.text
    api.request("GET", f"{t}/files/{slot.body['file_id']}")
    # webhooks
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["job.succeeded"]}
    created = api.request("POST", f"{t}/webhooks", json=hook)
    assert created.status == 201, created.text
    sub = f"{t}/webhooks/{created.body['id']}"
    api.request("GET", f"{t}/webhooks")
    api.request("GET", sub)
    api.request("PATCH", sub, json={"description": "openapi"})
    for _ in range(3):  # two rotations overlapping: 3 secrets sign; a third rotation would make 4 (409)
        api.request("POST", f"{sub}/rotate-secret", json={"overlap_seconds": 3600})
    ping = api.request("POST", f"{sub}/ping")
    assert ping.status == 202, ping.text
    api.request("GET", f"{sub}/deliveries")
    api.request("GET", f"{sub}/deliveries/{ping.body['id']}")
    deadline = time.monotonic() + 10  # 409 while an attempt is being made: try again
    while api.request("POST", f"{sub}/deliveries/{ping.body['id']}/redeliver").status != 202:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    api.request("POST", f"{sub}/recover", json={"since": "2026-01-01T00:00:00Z"})
    api.request("DELETE", sub)
    # beyond 25 subscriptions of a tenant: 409
    extra = [api.request("POST", f"{t}/webhooks", json=hook) for _ in range(26)]
    assert extra[-1].status == 409, extra[-1].text
    for reply in extra:
        if reply.status == 201:
            api.request("DELETE", f"{t}/webhooks/{reply.body['id']}")


def _haven(api, session: requests.Session) -> None:
    def call(method, path, **kw):
        return session.request(method, api.base_url + path, timeout=35, **kw)

    key = {"apikey": api.key}
    text = {"text": "a fast job", "highlight_expression": "fast"}
    for method, path in (("GET", "/1/api/sync/highlight/v1"), ("GET", "/1/api/async/highlight/v1")):
        call(method, path, params={**text, **key})  # 200
        call(method, path, params=text)  # 401: no apikey
        call(method, path.replace("highlight", "nothing"), params={**text, **key})  # 404
        call(method, path, params=key)  # 400: a required parameter missing
    for path in ("/1/api/sync/highlight/v1", "/1/api/async/highlight/v1"):
        call("POST", path, data={**text, **key})  # 200
        call("POST", path, data=text)  # 401
        call("POST", path.replace("highlight", "nothing"), data={**text, **key})  # 404
        call("POST", path, data=key)  # 400
        call("POST", path, data={**key, "x": "a" * 4_500_000})  # 413
        call("POST", path, json=text)  # 415
    # sync: the action failed (7100, 400) and failed on the service's side (7101, 502)
    call("GET", "/1/api/sync/diagnostic/v1", params={**key, "fail_with": "action_error"})
    call("GET", "/1/api/sync/diagnostic/v1", params={**key, "fail_with": "exception"})
    call("POST", "/1/api/sync/diagnostic/v1", data={**key, "fail_with": "exception"})
    job = json.dumps({"actions": [{"name": "highlight", "version": "v1", "params": text}]})
    submitted = call("POST", "/1/job", data={**key, "job": job})  # 200
    call("POST", "/1/job", data={"job": job})  # 401
    call("POST", "/1/job", data={**key, "job": job.replace("highlight", "nothing")})  # 404
    call("POST", "/1/job", data={**key, "job": "not json"})  # 400
    call("POST", "/1/job", data={**key, "job": "a" * 4_500_000})  # 413
    call("POST", "/1/job", json={"job": job})  # 415
    for route in ("status", "result"):
        call("GET", f"/1/job/{route}/{submitted.json()['jobID']}", params=key)  # 200
        call("GET", f"/1/job/{route}/{UNKNOWN['jobID']}", params={"apikey": api.key})  # 404
        call("GET", f"/1/job/{route}/{UNKNOWN['jobID']}")  # 401


def _body_mismatches(doc: dict, replies: list[requests.Response]) -> list[tuple]:
    """(method, path, status, first error) of each JSON body its documented schema refuses, and of
    each answer without a header documented as required."""
    found = []
    for resp in replies:
        path = urlsplit(resp.request.url).path
        operation = operation_of(doc, str(resp.request.method), path)
        if operation is None:
            continue
        documented = doc["paths"][operation[1]][operation[0].lower()]["responses"].get(str(resp.status_code))
        for name, header in ((documented or {}).get("headers") or {}).items():
            if header.get("required") and name not in resp.headers:
                found.append((resp.request.method, path, resp.status_code, f"no {name} header"))
        content = ((documented or {}).get("content") or {}).get("application/json")
        if content is None:
            continue
        schema = {**content["schema"], "components": doc["components"]}
        checker = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = sorted(checker.iter_errors(resp.json()), key=lambda e: e.path)
        if errors:
            found.append((resp.request.method, path, resp.status_code, errors[0].message[:300]))
    return found


def test_each_documented_status_is_answered_and_each_answer_documented(api, local, served):
    # Given the requests below, as the local stack logs them (this test's lines only), and their answers
    start = len(local.log())
    replies: list[requests.Response] = []
    keep = lambda resp, *args, **kwargs: replies.append(resp)  # noqa: E731
    anonymous = requests.Session()
    for session in (api.http, anonymous):
        session.hooks["response"].append(keep)
    try:
        _v2_errors(api, served, anonymous)
        _v2_successes(api)
        _haven(api, anonymous)
    finally:
        api.http.hooks["response"].remove(keep)
    answers = answered(local.log()[start:])

    # Then every status they got is documented for its operation, and every body is as documented
    assert undocumented(served, answers) == {}
    assert len(replies) > 200
    assert _body_mismatches(served, replies) == []
    # and every documented status was answered by one of them (run and status routes of all
    # actions as one each), but those no request here can cause
    got = {(m, _family(p), s) for m, p, s in covered(served, answers)}
    documented = {
        (method.upper(), _family(path), int(status))
        for path, operations in served["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }
    expected = {d for d in documented if d[2] not in NOT_CAUSED_HERE and d not in NOT_CAUSED_FOR}
    assert sorted(expected - got) == []
    # and each exemption still names a documented status
    assert set(NOT_CAUSED_FOR) <= documented
