"""Webhooks end to end on the local stack: a job finishes, a real receiver gets a verified call."""

from __future__ import annotations

import json
import time

from standardwebhooks.webhooks import Webhook

from tests.receiver import Answer, Receiver


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_job_completion_reaches_a_receiver_verified(api, local):
    with Receiver([Answer(500)]) as rx:  # fails once: the retry arrives with the same webhook-id
        created = api.request(
            "POST",
            f"/v2/tenants/{api.tenant}/webhooks",
            json={
                "url": rx.url,
                "events": ["job.succeeded"],
                "auth": {"type": "headers", "headers": {"X-Token": "t0k"}},
            },
        )
        assert created.status == 201, created.text
        run = api.run("/diagnostic", {"echo": {"e2e": True}})
        job_id = run.body["job_id"]
        _wait(lambda: len(rx.received) >= 2)

    first, second = rx.received[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"{job_id}.succeeded"
    payload = Webhook(created.body["secret"]).verify(second.body, second.headers)
    assert payload["type"] == "job.succeeded" and payload["data"]["job_id"] == job_id
    assert payload["data"]["result"]["echo"] == {"e2e": True}
    assert second.headers["x-token"] == "t0k"
    sub_id = created.body["id"]
    log = api.request("GET", f"/v2/tenants/{api.tenant}/webhooks/{sub_id}/deliveries").body["deliveries"]
    assert log[0]["status"] == "succeeded" and log[0]["attempts"] == 2
    assert log[0]["created_at"].endswith("Z") and created.body["created_at"].endswith("Z")  # ISO 8601 UTC
    assert json.loads(second.body)["data"]["status"] == "succeeded"
    api.request("DELETE", f"/v2/tenants/{api.tenant}/webhooks/{sub_id}")
