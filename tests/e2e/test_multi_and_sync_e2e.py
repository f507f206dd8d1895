"""Multi-action jobs and sync mode end to end, over real HTTP on the local stack: a job of three
actions with one failing gets per-action outcomes and exactly one webhook; `Prefer: wait=N` answers
with the finished job, or goes on asynchronously when the job outlasts the wait."""

from __future__ import annotations

import time

from standardwebhooks.webhooks import Webhook

from tests.receiver import Receiver


def _until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def test_three_actions_one_failing_one_webhook(api, local):
    jobs = f"/v2/tenants/{api.tenant}/jobs"
    with Receiver() as rx:
        created = api.request(
            "POST",
            f"/v2/tenants/{api.tenant}/webhooks",
            json={"url": rx.url, "events": ["job.succeeded", "job.failed"]},
        )
        assert created.status == 201, created.text
        actions = [
            {"name": "diagnostic", "params": {"duration_seconds": 0.5, "echo": {"n": 0}}},
            {"name": "diagnostic", "params": {"fail_with": "action_error"}},
            {"name": "diagnostic", "params": {"duration_seconds": 0.5, "echo": {"n": 2}}},
        ]
        run = api.request("POST", jobs, json={"actions": actions})
        assert run.status == 202, run.text
        job_id = run.body["job_id"]
        assert run.headers["Location"] == f"{jobs}/{job_id}"

        done = _until(lambda: (d := api.request("GET", f"{jobs}/{job_id}").body)["status"] == "failed" and d)
        _until(lambda: rx.received)
        time.sleep(2)  # room for a second (wrong) delivery to show up

    assert [a["status"] for a in done["actions"]] == ["succeeded", "failed", "succeeded"]
    assert done["actions"][0]["result"]["echo"] == {"n": 0} and done["actions"][2]["result"]["echo"] == {
        "n": 2
    }
    assert done["actions"][1]["error"]["code"] == "diagnostic_failure"
    assert done["error"]["code"] == "actions_failed"
    (delivery,) = rx.received  # one webhook for the job, none per action
    payload = Webhook(created.body["secret"]).verify(delivery.body, delivery.headers)
    assert payload["type"] == "job.failed" and payload["data"]["job_id"] == job_id
    assert delivery.headers["webhook-id"] == f"{job_id}.failed"
    api.request("DELETE", f"/v2/tenants/{api.tenant}/webhooks/{created.body['id']}")


def test_sync_run_within_the_wait_answers_with_the_result(api, local):
    reply = api.run("/diagnostic", {"echo": {"sync": True}}, headers={"Prefer": "wait=20"})
    assert reply.status == 200, reply.text
    assert reply.headers["Preference-Applied"] == "wait=20"
    assert reply.body["status"] == "succeeded" and reply.body["result"]["echo"] == {"sync": True}


def test_sync_run_beyond_the_wait_goes_on_asynchronously(api, local):
    started = time.monotonic()
    reply = api.run("/diagnostic", {"duration_seconds": 4, "steps": 2}, headers={"Prefer": "wait=1"})
    assert reply.status == 202, reply.text
    assert time.monotonic() - started < 3.5
    job_id = reply.body["job_id"]
    # a status call that waits returns when the job ends, not at the end of its wait
    waited = api.request(
        "GET",
        f"/v2/tenants/{api.tenant}/diagnostic/status",
        params={"job_id": job_id},
        headers={"Prefer": "wait=20"},
    )
    assert waited.status == 200 and waited.body["status"] == "succeeded", waited.text
    assert time.monotonic() - started < 15


def test_a_waiting_status_call_times_out_with_the_current_status(api, local):
    run = api.run("/diagnostic", {"duration_seconds": 10, "steps": 10})
    job_id = run.body["job_id"]
    started = time.monotonic()
    reply = api.request("GET", f"/v2/tenants/{api.tenant}/jobs/{job_id}", headers={"Prefer": "wait=2"})
    took = time.monotonic() - started
    assert reply.status == 200 and reply.body["status"] in ("queued", "in_progress"), reply.text
    assert 2 <= took < 5, took
    assert reply.headers["Preference-Applied"] == "wait=2" and reply.headers["Retry-After"]
    api.request("POST", f"/v2/tenants/{api.tenant}/jobs/{job_id}/cancel")


def test_a_large_result_is_downloaded_through_its_url(api, local):
    import hashlib
    import json

    import requests

    blob = "x" * 200_000  # the input (over 64 KB) and the result both go to S3
    reply = api.run("/diagnostic", {"echo": {"blob": blob}}, headers={"Prefer": "wait=20"})
    assert reply.status == 200, reply.text
    file = reply.body["result_file"]
    assert "result" not in reply.body and "X-Amz-Signature=" in file["download_url"]  # SigV4
    download = requests.get(file["download_url"], timeout=30)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == file["sha256"]
    assert json.loads(download.content)["echo"] == {"blob": blob}
