"""The API over real HTTP: what a caller does, start to finish."""

from __future__ import annotations

import json
import time

import requests

from tests.integration.test_run_and_status import PROPOSAL
from tests.support import ROOT


def test_submit_poll_succeeded(api):
    reply = api.run("/diagnostic", {"duration_seconds": 0.5, "steps": 2, "echo": {"a": 1}})
    assert reply.status == 202, reply.text
    assert reply.headers["Location"].endswith(reply.body["job_id"])

    done = api.wait(reply.headers["Location"])

    assert done["status"] == "succeeded" and done["progress"] == 100
    assert done["result"]["echo"] == {"a": 1}


def test_failed_action_reports_a_safe_error(api):
    reply = api.run("/diagnostic", {"fail_with": "exception"})
    done = api.wait(reply.headers["Location"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "action_error" and "secret" not in json.dumps(done)


def test_validation_error_names_the_field(api):
    reply = api.run("/designs/d-1/proposal_pdf", {**PROPOSAL, "price_per_watt": "cheap"})
    assert reply.status == 422
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body["error"]["details"][0]["field"] == "price_per_watt"
    assert "`price_per_watt`" in reply.body["error"]["message"]


def test_malformed_json_and_unknown_routes(api):
    bad = api.request(
        "POST",
        f"/v2/tenants/{api.tenant}/diagnostic/run",
        data=b"{oops",
        headers={"content-type": "application/json"},
    )
    assert bad.status == 400 and bad.body["error"]["code"] == "malformed_json"
    unknown_action = api.run("/designs/d-1/teleport", {})
    assert unknown_action.status == 404
    outside_api = api.request("GET", "/nothing-here")
    assert outside_api.status == 404  # no route in the template: API Gateway's own 404


def test_proposal_pdf_download_url_serves_the_pdf(api):
    reply = api.run("/designs/d-9/proposal_pdf", PROPOSAL)
    done = api.wait(reply.headers["Location"])
    assert done["status"] == "succeeded", done
    (file,) = done["result"]["files"]
    pdf = requests.get(file["download_url"], timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert len(pdf.content) == file["size_bytes"]


def test_list_and_cancel_over_http(api):
    running = api.run("/diagnostic", {"duration_seconds": 20, "steps": 100})
    job_id, location = running.body["job_id"], running.headers["Location"]
    deadline = time.monotonic() + 15
    while api.request("GET", location).body["progress"] == 0:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)

    cancel = api.request("POST", f"/v2/tenants/{api.tenant}/jobs/{job_id}/cancel")

    assert cancel.status == 202 and cancel.body["cancel_requested"] is True
    done = api.wait(location)
    assert done["status"] == "cancelled"
    listed = api.request("GET", f"/v2/tenants/{api.tenant}/jobs", params={"status": "cancelled"})
    assert job_id in [j["job_id"] for j in listed.body["jobs"]]


def test_openapi_document_and_docs_are_served(api, local):
    doc = api.request("GET", "/openapi.json")
    assert doc.status == 200
    assert "/v2/tenants/{tenant_id}/diagnostic/run" in doc.body["paths"]
    assert doc.body["servers"] == [{"url": api.base_url}]
    page = api.request("GET", "/docs")
    assert page.status == 200 and "swagger-ui-bundle.js" in page.text
    assert api.request("GET", "/docs/swagger-ui-bundle.js").status == 200


def test_openapi_document_is_public(api):
    # Locally (built live) and on a deployed stack (StatusFunction's GET /openapi.json, from the
    # layer's copy): no API key, the committed document, with the URL it was requested at as server
    resp = requests.get(f"{api.base_url}/openapi.json", timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    doc = resp.json()
    assert doc["servers"] == [{"url": api.base_url}]
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert {k: v for k, v in doc.items() if k != "servers"} == committed


def test_local_stack_logs_one_line_per_request_and_job_transition(api, local):
    reply = api.run("/diagnostic", {})
    job_id = reply.body["job_id"]
    api.wait(reply.headers["Location"])
    lines = [line for line in local.log().splitlines() if job_id in line]
    messages = [line for line in lines if "ExecutorFunction" in line]
    assert any("job started" in line for line in messages)
    assert any("job finished" in line and "status=succeeded" in line for line in messages)
    assert any(
        f"HTTP GET /v2/tenants/{api.tenant}/diagnostic/status?job_id={job_id} → 200" in line for line in lines
    )


def test_printed_curl_example_works_as_printed(api, local):
    import subprocess

    lines = local.log().splitlines()
    command = lines[lines.index("Try it:") + 1].strip()
    assert command.startswith("curl ") and local.base_url in command

    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)

    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HTTP/1.1 202")
    location = next(
        line.split(" ", 1)[1].strip()
        for line in out.stdout.splitlines()
        if line.lower().startswith("location:")
    )
    # the printed key is the demo tenant's, created at start
    demo = local.state["bootstrap"]
    status = requests.get(api.base_url + location, headers=demo["headers"], timeout=10)
    assert status.status_code == 200 and status.json()["job_id"] in location


def test_busy_port_is_refused_with_a_clear_message(local):
    import subprocess
    import sys

    from tests.support import ROOT

    port = local.base_url.rsplit(":", 1)[1]
    out = subprocess.run(
        [sys.executable, "-m", "devstack", "--port", port],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in out.stderr
