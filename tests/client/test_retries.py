"""Retries through a real proxy in front of the local stack: a lost answer, 429 and 503 with
Retry-After, giving up; a retried run never starts a second job."""

from __future__ import annotations

import json
import time

import pytest

from asyncjobs_client import Client, Conflict, ServiceUnavailable, TransportError, WaitTimeout
from tests.client.proxy import Proxy, Step
from tests.receiver import Receiver, closed_port_url


def _only_job(client: Client) -> str:
    [job] = list(client.jobs.list())
    return job.job_id


def test_a_run_whose_answer_was_lost_is_retried_with_the_same_key_and_starts_one_job(api, client, tenant):
    # Given a proxy that forwards the first run to the stack, then hangs up without answering
    with Proxy(api.base_url, [Step("drop")]) as proxy, Client(proxy.url, tenant[1], tenant[0]) as via_proxy:
        # When the caller runs an action
        job = via_proxy.run("diagnostic", {"echo": {"once": True}})
    # Then the client sent it twice with one Idempotency-Key, and the stack replayed the first job
    first, second = proxy.requests("POST", "/diagnostic/run")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    created = json.loads(first.upstream_body)["job_id"]  # what the caller never heard
    assert first.upstream_status == 202 and job.job_id == created and job.replayed
    # And one job exists
    assert _only_job(client) == created


@pytest.mark.parametrize("status", [429, 503, 409])
def test_retry_after_is_honoured(api, client, tenant, status):
    """429 (throttled), 503, and 409 with Retry-After (the same Idempotency-Key still in flight)."""
    with (
        Proxy(api.base_url, [Step("answer", status, retry_after="1")]) as proxy,
        Client(proxy.url, tenant[1], tenant[0]) as via_proxy,
    ):
        job = via_proxy.run("diagnostic", {})
    refused, accepted = proxy.requests("POST", "/diagnostic/run")
    assert accepted.at - refused.at >= 0.95  # Retry-After: 1
    assert refused.upstream_status is None and accepted.upstream_status == 202
    assert _only_job(client) == job.job_id and job.state.status == "queued"


def test_it_gives_up_after_max_retries_with_the_api_error(api, client, tenant):
    refusals = [Step("answer", 503, retry_after="0") for _ in range(5)]
    with (
        Proxy(api.base_url, refusals) as proxy,
        Client(proxy.url, tenant[1], tenant[0], max_retries=2) as c,
        pytest.raises(ServiceUnavailable) as unavailable,
    ):
        c.run("diagnostic", {})
    assert len(proxy.requests("POST")) == 3  # the first try and 2 retries
    assert unavailable.value.code == "service_unavailable" and unavailable.value.retry_after == 0
    assert list(client.jobs.list()) == []  # nothing reached the stack


def test_a_conflict_without_retry_after_is_not_retried(client):
    job = client.run("diagnostic", {}, wait=10)
    with pytest.raises(Conflict) as ended:
        client.jobs.cancel(job.job_id)
    assert ended.value.code == "conflict" and ended.value.retry_after is None


def test_a_connection_that_cannot_be_made_is_a_transport_error():
    url = closed_port_url().removesuffix("/hooks")
    with Client(url, "ajk_x_y", "t", max_retries=1) as c, pytest.raises(TransportError, match="ConnectError"):
        c.jobs.get("01a203b7-0e11-74d0-ad5d-dde9fe7bd4df")


def test_creating_a_webhook_is_not_retried_after_a_lost_answer(api, client, tenant):
    """Not idempotent: a retry after the request may have arrived could subscribe twice."""
    with (
        Proxy(api.base_url, [Step("drop")]) as proxy,
        Client(proxy.url, tenant[1], tenant[0]) as via_proxy,
        pytest.raises(TransportError),
    ):
        via_proxy.webhooks.create("http://127.0.0.1:9/hooks", ["job.failed"])
    assert len(proxy.requests("POST", "/webhooks")) == 1
    assert len(client.webhooks.list()) == 1  # the one the stack created


def test_wait_gives_up_at_its_timeout_even_while_retrying(api, client, tenant):
    """`job.wait(timeout=T)` raises `WaitTimeout` after T seconds (README): a status read answered
    503 with `Retry-After` is not slept through past the caller's deadline, three times over."""
    job = client.run("diagnostic", {"duration_seconds": 30, "steps": 2})
    refusals = [Step("answer", 503, retry_after="4") for _ in range(3)]
    with (
        Proxy(api.base_url, refusals, methods=frozenset({"GET"})) as proxy,
        Client(proxy.url, tenant[1], tenant[0]) as via_proxy,
    ):
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            via_proxy.job(job.job_id).wait(timeout=2)
        waited = time.monotonic() - started
    client.jobs.cancel(job.job_id)
    assert waited < 3.5, f"wait(timeout=2) returned after {waited:.1f} s"


def test_a_delete_whose_answer_was_lost_is_not_reported_as_not_found(api, client, tenant):
    """DELETE is retried after a dropped connection (README's table). The first try deleted the
    subscription; the retry is answered 404: the caller must not be told the subscription did not
    exist (it did, and is now deleted, which is what was asked)."""
    sub = client.webhooks.create("http://127.0.0.1:9/hooks", ["job.failed"])
    with (
        Proxy(api.base_url, [Step("drop")], methods=frozenset({"DELETE"})) as proxy,
        Client(proxy.url, tenant[1], tenant[0]) as via_proxy,
    ):
        via_proxy.webhooks.delete(sub.id)
    first, second = proxy.requests("DELETE", sub.id)
    assert first.upstream_status == 204 and second.upstream_status == 404
    assert client.webhooks.list() == []


def test_a_redelivery_whose_answer_was_lost_is_delivered_once(api, client, tenant):
    """A retried redeliver after a lost answer would meet the first try's attempt in flight (409
    `conflict`, raised as if the redelivery had failed) or, once it is done, restart it again (the
    receiver gets the event twice). So redeliver is not idempotent (README's table): after a
    dropped connection it is not retried, the caller gets the `TransportError`, and the event is
    delivered once."""
    with Receiver() as rx:
        sub = client.webhooks.create(rx.url, ["job.succeeded"])
        ping = client.webhooks.ping(sub.id)
        for _ in range(300):
            if client.webhooks.delivery(sub.id, ping.id).status == "succeeded":
                break
            time.sleep(0.1)
        with (
            Proxy(api.base_url, [Step("drop")]) as proxy,
            Client(proxy.url, tenant[1], tenant[0]) as via_proxy,
            pytest.raises(TransportError),
        ):
            via_proxy.webhooks.redeliver(sub.id, ping.id)
        assert len(proxy.requests("POST", "/redeliver")) == 1
        time.sleep(3)  # both restarts' messages have been processed
        assert len(rx.received) == 2, [r.headers.get("webhook-id") for r in rx.received]  # ping + 1
