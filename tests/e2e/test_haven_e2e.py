"""The Haven routes over real HTTP on the local stack, driven the way Haven's documentation shows:
GET with query parameters, POST with form fields, multipart with files, the `apikey` parameter."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.receiver import Receiver
from tests.unit.test_haven_unit import pdf_with

SPAN = '<span class="highlight">'
HIGHLIGHT = {"text": "highlighted text", "highlight_expression": "highlighted"}


@pytest.fixture(scope="module")
def haven(api):
    """GET/POST to `/1/...` without the bearer header: Haven callers only send `apikey`."""

    def call(method: str, path: str, **kw):
        resp = requests.request(method, api.base_url + path, timeout=35, **kw)
        return resp.status_code, resp.json(), resp.headers

    return call


def _status(haven, key, job_id, route="status"):
    code, body, _ = haven("GET", f"/1/job/{route}/{job_id}", params={"apikey": key})
    assert code == 200, body
    return body


def test_sync_get_with_query_parameters(api, haven):
    # As the seed's example: /1/api/sync/highlight/v1?text=...&highlight_expression=...&apikey=...
    code, body, _ = haven("GET", "/1/api/sync/highlight/v1", params={**HIGHLIGHT, "apikey": api.key})
    assert (code, body) == (200, {"text": f"{SPAN}highlighted</span> text"})


def test_sync_post_with_form_fields(api, haven):
    code, body, _ = haven("POST", "/1/api/sync/highlight/v1", data={**HIGHLIGHT, "apikey": api.key})
    assert (code, body) == (200, {"text": f"{SPAN}highlighted</span> text"})


def test_async_then_status_and_result(api, haven):
    code, body, _ = haven("POST", "/1/api/async/highlight/v1", data={**HIGHLIGHT, "apikey": api.key})
    assert code == 200 and set(body) == {"jobID"}
    result = _status(haven, api.key, body["jobID"], "result")  # waits for the end
    assert result["status"] == "finished" and result["jobID"] == body["jobID"]
    assert result["actions"] == [
        {
            "action": "highlight",
            "version": "v1",
            "status": "finished",
            "result": {"text": f"{SPAN}highlighted</span> text"},
        }
    ]
    assert _status(haven, api.key, body["jobID"]) == result
    # an ordinary job of the tenant: the native API lists it
    listed = api.request("GET", f"/v2/tenants/{api.tenant}/jobs", params={"action": "highlight"}).body
    assert body["jobID"] in [j["job_id"] for j in listed["jobs"]]


def test_multipart_file_on_the_api_route(api, haven):
    files = {"file": ("report.pdf", pdf_with("Annual figures"), "application/pdf")}
    code, body, _ = haven("POST", "/1/api/sync/extracttext/v1", data={"apikey": api.key}, files=files)
    assert code == 200, body
    (document,) = body["document"]
    assert "Annual figures" in document["content"] and document["pages"] == 1


def test_a_job_of_three_actions_one_failing_with_files_and_one_webhook(api, haven):
    with Receiver() as rx:
        sub = api.request(
            "POST",
            f"/v2/tenants/{api.tenant}/webhooks",
            json={"url": rx.url, "events": ["job.succeeded", "job.failed"]},
        )
        assert sub.status == 201, sub.text
        job = {
            "actions": [
                {"name": "extracttext", "version": "v1", "params": {"file": "file1"}},
                {
                    "name": "highlight",
                    "version": "v1",
                    "params": {"text": "t", "file": "file1", "highlight_expression": "x"},
                },
                {
                    "name": "highlight",
                    "version": "v1",
                    "params": {"text": "a b", "highlight_expression": "b"},
                },
            ]
        }
        # `file` is not a parameter of highlight: the whole job is refused with 4006 naming the
        # action (every action of a job is checked before any runs).
        code, body, _ = haven(
            "POST",
            "/1/job",
            data={"apikey": api.key, "job": json.dumps(job)},
            files={"file1": ("notes.txt", b"some notes", "text/plain")},
        )
        assert code == 400 and body["error"] == 4006 and "actions[1] (highlight)" in body["detail"], body

        job["actions"][1] = {"name": "diagnostic", "version": "v1", "params": {"fail_with": "action_error"}}
        code, body, _ = haven(
            "POST",
            "/1/job",
            data={"apikey": api.key, "job": json.dumps(job)},
            files={"file1": ("notes.txt", b"some notes", "text/plain")},
        )
        assert code == 200, body
        job_id = body["jobID"]
        result = _status(haven, api.key, job_id, "result")
        assert [a["status"] for a in result["actions"]] == ["finished", "failed", "finished"]
        assert result["status"] == "finished"
        assert result["actions"][0]["result"]["document"][0]["content"] == "some notes"
        assert result["actions"][1]["errors"][0]["error"] == 7100
        deadline = time.monotonic() + 20
        while not rx.received and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # a second delivery, if there were one, would have come by now
        mine = [r for r in rx.received if job_id in r.body.decode()]
        assert len(mine) == 1, [r.body for r in rx.received]
        api.request("DELETE", f"/v2/tenants/{api.tenant}/webhooks/{sub.body['id']}")


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "code"),
    [
        ("GET", "/1/api/sync/highlight/v1", {"params": {**HIGHLIGHT, "apikey": "nope"}}, 401, 2002),
        ("POST", "/1/api/sync/highlight/v1", {"data": HIGHLIGHT}, 401, 2000),
        ("GET", "/1/api/sync/nosuch/v1", {"params": {"apikey": "KEY"}}, 404, 4004),
        ("GET", "/1/api/async/highlight/v9", {"params": {**HIGHLIGHT, "apikey": "KEY"}}, 404, 4005),
        (
            "POST",
            "/1/api/async/highlight/v1",
            {"data": {**HIGHLIGHT, "start_tag": "x" * 201, "apikey": "KEY"}},
            400,
            4006,
        ),
        (
            "GET",
            "/1/job/status/01a20000-0000-7000-8000-000000000001",
            {"params": {"apikey": "KEY"}},
            404,
            7001,
        ),
        ("POST", "/1/job", {"data": {"job": '{"actions": [', "apikey": "KEY"}}, 400, 4010),
        ("POST", "/1/job", {"files": {"job": (None, "{}"), "apikey": (None, "KEY")}}, 400, 4010),
    ],
)
def test_haven_errors(api, haven, method, path, kw, status, code):
    kw = json.loads(json.dumps(kw).replace('"KEY"', json.dumps(api.key)))
    got, body, _ = haven(method, path, **kw)
    assert (got, body["error"]) == (status, code), body
    assert set(body) >= {"error", "reason", "detail"}


def test_sync_past_the_cap_gives_the_job_id_and_the_job_finishes(api, haven):
    # A job of 27 s: the sync call answers after its 25 s cap with 7010 and the job id.
    params = {"duration_seconds": "27", "steps": "3", "apikey": api.key}
    began = time.monotonic()
    code, body, headers = haven("GET", "/1/api/sync/diagnostic/v1", params=params)
    assert code == 202 and body["error"] == 7010 and body["jobID"], body
    assert 24 < time.monotonic() - began < 29
    assert headers["Location"] == f"/1/job/status/{body['jobID']}"
    assert _status(haven, api.key, body["jobID"], "result")["status"] == "finished"


def test_apikey_values_appear_in_no_log_line(api, haven, local):
    key = local.create_key(api.tenant)
    haven("GET", "/1/api/async/highlight/v1", params={**HIGHLIGHT, "apikey": key})
    haven("POST", "/1/api/async/highlight/v1", data={**HIGHLIGHT, "apikey": key})
    haven("GET", "/1/job/status/nosuch", params={"apikey": key})
    haven("GET", "/1/api/sync/nosuch/v1", params={"apikey": key + "x"})  # a wrong key is a secret too
    log = local.log()
    assert "apikey=***" in log
    assert key not in log and key[:20] not in log
