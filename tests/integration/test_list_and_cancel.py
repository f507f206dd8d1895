"""Listing a tenant's jobs and cancelling them."""

from __future__ import annotations

import threading

from tests.integration.test_run_and_status import PROPOSAL


def _list(harness, tenant="acme", **query):
    return harness.request("GET", f"/v2/tenants/{tenant}/jobs", query={k: str(v) for k, v in query.items()})


def test_list_is_newest_first_and_pages_with_an_opaque_cursor(harness):
    ids = [harness.submit() for _ in range(5)]
    harness.submit(tenant="globex")  # never listed for acme

    seen, cursor, pages = [], None, 0
    while True:
        reply = _list(harness, limit=2, **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200
        seen += [j["job_id"] for j in reply.body["jobs"]]
        pages += 1
        cursor = reply.body["next_cursor"]
        if cursor is None:
            break
        assert ids[0] not in cursor  # opaque: not the raw id
    assert seen == list(reversed(ids))
    assert pages == 3


def test_list_filters_by_action_and_status(harness):
    diag_ok = harness.submit(body={})
    diag_bad = harness.submit(body={"fail_with": "action_error"})
    harness.execute()
    pdf = harness.run("acme", "/designs/d-1/proposal_pdf", PROPOSAL).body["job_id"]

    by_action = _list(harness, action="proposal_pdf").body["jobs"]
    assert [j["job_id"] for j in by_action] == [pdf]
    assert by_action[0]["path_params"] == {"design_id": "d-1"} and "result" not in by_action[0]

    failed = _list(harness, status="failed").body["jobs"]
    assert [j["job_id"] for j in failed] == [diag_bad]
    assert failed[0]["error"]["code"] == "diagnostic_failure"

    both = _list(harness, action="diagnostic", status="succeeded").body["jobs"]
    assert [j["job_id"] for j in both] == [diag_ok]

    queued = _list(harness, status="queued").body["jobs"]
    assert [j["job_id"] for j in queued] == [pdf]


def test_filtered_pages_are_full_even_when_matches_are_sparse(harness):
    wanted = [harness.submit(body={"fail_with": "action_error"}) for _ in range(3)]
    for _ in range(30):
        harness.submit()
    harness.execute()
    reply = _list(harness, status="failed", limit=3)
    assert [j["job_id"] for j in reply.body["jobs"]] == list(reversed(wanted))


def test_list_rejects_bad_parameters(harness):
    assert _list(harness, status="finished").status == 422
    assert _list(harness, action="teleport").body["error"]["code"] == "invalid_request"
    assert _list(harness, limit=0).status == 422
    assert _list(harness, limit=1000).status == 422
    bad = _list(harness, cursor="bm90LWEtY3Vyc29y")
    assert bad.status == 422 and "cursor" in bad.body["error"]["message"]


def test_cancel_a_queued_job_it_never_runs(harness):
    harness.tap_events()
    job_id = harness.submit()

    reply = harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel")

    assert reply.status == 200
    assert reply.body["status"] == "cancelled"
    harness.execute()  # its message is still delivered...
    item = harness.item("acme", job_id)
    assert item["status"] == "cancelled" and item["attempts"] == 0  # ...but the action never ran
    (event,) = harness.emitted()
    assert event["detail-type"] == "Job Cancelled"


def test_cancel_a_running_job_the_action_stops(harness):
    job_id = harness.submit(body={"duration_seconds": 5, "steps": 50})
    worker = harness.execute_in_background()
    harness.wait_for(lambda: harness.status("acme", "/diagnostic", job_id).body["progress"] > 0)

    reply = harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel")
    assert reply.status == 202
    assert reply.body["status"] == "in_progress" and reply.body["cancel_requested"] is True

    worker.join(timeout=10)
    doc = harness.status("acme", "/diagnostic", job_id).body
    assert doc["status"] == "cancelled"
    assert doc["progress"] < 100 and "result" not in doc
    assert not worker.is_alive()


def test_cancel_a_finished_job_is_409(harness):
    job_id = harness.submit()
    harness.execute()
    reply = harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel")
    assert reply.status == 409
    assert "succeeded" in reply.body["error"]["message"]


def test_cancel_another_tenants_job_is_404(harness):
    job_id = harness.submit(tenant="acme")
    assert harness.request("POST", f"/v2/tenants/globex/jobs/{job_id}/cancel").status == 404
    assert harness.item("acme", job_id)["status"] == "queued"


def test_cancel_racing_the_executor_ends_in_exactly_one_terminal_state(harness):
    harness.tap_events()
    job_id = harness.submit(body={"duration_seconds": 0.2, "steps": 4})
    barrier = threading.Barrier(2)
    replies = []

    def cancel():
        barrier.wait()
        replies.append(harness.request("POST", f"/v2/tenants/acme/jobs/{job_id}/cancel").status)

    t = threading.Thread(target=cancel)
    t.start()
    barrier.wait()
    harness.execute()
    t.join()
    harness.execute()

    final = harness.item("acme", job_id)["status"]
    assert final in ("cancelled", "succeeded")
    assert replies[0] in (200, 202, 409)
    events = harness.emitted()
    assert {e["detail"]["status"] for e in events} == {final}
