"""The Webhooks API through the client, and `webhooks.verify` on a real delivery from the stack."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from asyncjobs_client import AsyncClient, NotFound, WebhookVerificationError
from asyncjobs_client.webhooks import verify
from tests.receiver import Receiver


def _until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_verify_accepts_a_real_delivery_and_rejects_forged_ones(client):
    # Given a subscription to a real receiver on this machine, and a job that succeeds
    with Receiver() as rx:
        sub = client.webhooks.create(rx.url, ["job.succeeded"], description="client test")
        job = client.run("diagnostic", {"echo": {"hello": "hook"}})
        _until(lambda: rx.received)
    got = rx.received[0]

    # When the receiver verifies it with the subscription's secret
    event = verify(got.body, got.headers, sub.secret)

    # Then it is the job's typed event
    assert event.type == "job.succeeded" and event.id == f"{job.job_id}.succeeded"
    assert event.job.job_id == job.job_id and event.job.status == "succeeded"
    assert event.job.result["echo"] == {"hello": "hook"} and event.timestamp.tzinfo is UTC
    # And nothing forged passes: an altered body, another secret, an old timestamp
    altered = got.body.replace(b'"hook"', b'"hack"')
    with pytest.raises(WebhookVerificationError):
        verify(altered, got.headers, sub.secret)
    other_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(WebhookVerificationError):
        verify(got.body, got.headers, other_secret)
    old = datetime.now(UTC) - timedelta(minutes=10)
    replayed = {
        **got.headers,
        "webhook-timestamp": str(int(old.timestamp())),
        "webhook-signature": Webhook(sub.secret).sign(got.headers["webhook-id"], old, got.body.decode()),
    }
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(got.body, replayed, sub.secret)

    # And the delivery log shows it, payload included
    [logged] = _until(lambda: [d for d in client.webhooks.deliveries(sub.id) if d.status == "succeeded"])
    assert logged.id == event.id and logged.attempts == 1
    full = client.webhooks.delivery(sub.id, logged.id)
    assert full.payload == json.loads(got.body) and full.attempt_log


def test_subscription_lifecycle(client):
    with Receiver() as rx:
        sub = client.webhooks.create(rx.url, ["job.failed"], actions=["diagnostic"])
        assert sub.secret.startswith("whsec_") and sub.created_at.tzinfo is UTC
        assert [s.id for s in client.webhooks.list()] == [sub.id]
        assert client.webhooks.get(sub.id).secret is None  # shown once
        changed = client.webhooks.update(sub.id, description="renamed", enabled=False)
        assert changed.description == "renamed" and not changed.enabled
        client.webhooks.update(sub.id, enabled=True)
        rotated = client.webhooks.rotate_secret(sub.id, overlap_seconds=0)
        assert rotated.secret != sub.secret and len(rotated.secrets) == 1
        ping = client.webhooks.ping(sub.id)
        assert ping.event_type == "ping" and ping.id.endswith(".ping")
        _until(lambda: client.webhooks.delivery(sub.id, ping.id).status == "succeeded")
        assert verify(rx.received[0].body, rx.received[0].headers, rotated.secret).type == "ping"
        assert client.webhooks.redeliver(sub.id, ping.id).id == ping.id
        _until(lambda: len(rx.received) == 2)
    recovered = client.webhooks.recover(sub.id, since=datetime.now(UTC) - timedelta(hours=1))
    assert recovered.requeued == 0 and recovered.next_cursor is None
    client.webhooks.delete(sub.id)
    with pytest.raises(NotFound):
        client.webhooks.get(sub.id)


def test_async_client_lists_subscriptions(api, tenant):
    """`AsyncClient` has `Client`'s surface (README): `await client.webhooks.list()` is the list of
    subscriptions, as `client.webhooks.list()` is for the blocking client."""

    async def scenario() -> list[str]:
        async with AsyncClient(api.base_url, tenant[1], tenant[0]) as c:
            with Receiver() as rx:
                sub = await c.webhooks.create(rx.url, ["job.failed"])
            listed = await c.webhooks.list()
            return [sub.id, *(s.id for s in listed)]

    created, *listed = asyncio.run(scenario())
    assert listed == [created]
