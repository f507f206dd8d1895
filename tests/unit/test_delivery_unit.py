"""The webhook Deliverer's state machine on in-memory fakes (store, SQS, send, clock): one rule of
webhooks/delivery.py at a time, without moto or a receiver."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from asyncjobs.webhooks.delivery import RETRY_SCHEDULE_S, AttemptRetry, Deliverer
from asyncjobs.webhooks.http_client import AttemptResult
from asyncjobs.webhooks.models import Delivery, Secret, Subscription, new_secret
from asyncjobs.webhooks.ssrf import Policy
from tests.unit.fakes import FakeClock, FakeSend, FakeSQS, FakeWebhookStore

TENANT = "acme"
JOB_ID = "01a20000-0000-7000-8000-000000000001"
EVENT_ID = f"{JOB_ID}.succeeded"
QUEUE_URL = "https://sqs.example/webhooks"
LOCAL = Policy(require_https=False, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = FakeWebhookStore()
        self.sqs = FakeSQS()
        self.send = FakeSend()
        self.deliverer = Deliverer(
            self.store,  # type: ignore[arg-type]
            self.sqs,
            QUEUE_URL,
            LOCAL,
            clock=self.clock,
            send=self.send,
        )

    def subscribe(self, sub_id: str = "sub_1", **fields: Any) -> Subscription:
        sub = Subscription(
            TENANT,
            sub_id,
            "http://127.0.0.1:9/hook",
            ("job.succeeded", "job.failed"),
            secrets=(Secret(new_secret(), self.clock()),),
            **fields,
        )
        return self.store.put_subscription(sub, new=True)

    def event(self, status: str = "succeeded", action: str = "diagnostic") -> dict[str, Any]:
        return {
            "time": "2027-01-15T08:00:00Z",
            "detail": {
                "event_id": f"{JOB_ID}.{status}",
                "tenant_id": TENANT,
                "job_id": JOB_ID,
                "action": action,
                "status": status,
                "finished_at": "2027-01-15T08:00:00.000Z",
                "expires_at": "2027-01-22T08:00:00.000Z",
            },
        }

    def delivery(self, sub_id: str = "sub_1") -> Delivery:
        d = self.store.get_delivery(sub_id, EVENT_ID)
        assert d is not None
        return d

    def last_message(self) -> dict[str, Any]:
        return self.sqs.messages[-1]["body"]  # type: ignore[no-any-return]

    def attempt_last_message(self) -> None:
        self.deliverer.attempt(self.last_message())


@pytest.fixture
def world() -> World:
    return World()


def test_a_2xx_answer_records_a_succeeded_delivery(world):
    # Given a subscription and a job event fanned out to it
    world.subscribe()
    world.deliverer.fan_out(world.event())

    # When the attempt its message asks for is made and the receiver answers 204
    world.send.script = [AttemptResult(204, 12.0)]
    world.attempt_last_message()

    # Then the delivery succeeded after one attempt, signed with its id, and nothing more is queued
    d = world.delivery()
    assert (d.status, d.attempt_count, d.claimed_until) == ("succeeded", 1, None)
    assert d.attempts[0]["status_code"] == 204
    assert world.send.calls[0]["headers"]["webhook-id"] == EVENT_ID
    assert len(world.sqs.messages) == 1


def test_a_5xx_answer_schedules_the_next_attempt_with_the_schedules_delay(world):
    # Given a delivery whose first attempt gets a 500
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.send.script = [AttemptResult(500, 5.0)]

    # When the attempt is made
    world.attempt_last_message()

    # Then the delivery stays pending, and its next attempt is queued after the schedule's delay
    d = world.delivery()
    assert (d.status, d.attempt_count) == ("pending", 1)
    assert d.next_attempt_at == pytest.approx(world.clock() + RETRY_SCHEDULE_S[1])
    nxt = world.sqs.messages[-1]
    assert nxt["delay"] == RETRY_SCHEDULE_S[1] and nxt["body"]["attempt_count"] == 1


def test_a_used_up_schedule_exhausts_the_delivery(world):
    # Given a receiver that always answers 503, and a delivery at its last scheduled attempt
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.send.script = [AttemptResult(503, 5.0)]

    # When every attempt of the schedule is made, each when it is due
    for _ in RETRY_SCHEDULE_S:
        world.clock.now = max(world.clock(), world.delivery().next_attempt_at or 0)
        world.attempt_last_message()

    # Then the delivery is exhausted after len(schedule) attempts, with no further message queued
    d = world.delivery()
    assert (d.status, d.attempt_count) == ("exhausted", len(RETRY_SCHEDULE_S))
    assert len(world.sqs.messages) == len(RETRY_SCHEDULE_S)  # the first + one per retry


def test_410_gone_disables_the_subscription(world):
    # Given a receiver that answers 410 Gone
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.send.script = [AttemptResult(410, 5.0)]

    # When the attempt is made
    world.attempt_last_message()

    # Then the delivery failed without a retry, and the subscription is disabled saying why
    assert world.delivery().status == "failed"
    sub = world.store.get_subscription(TENANT, "sub_1")
    assert not sub.enabled and "410" in (sub.disabled_reason or "")
    assert len(world.sqs.messages) == 1


def test_retry_after_lengthens_the_wait(world):
    # Given a receiver answering 429 with Retry-After: 120 (longer than the schedule's 5 s)
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.send.script = [AttemptResult(429, 5.0, retry_after_s=120)]

    # When the attempt is made
    world.attempt_last_message()

    # Then the next attempt waits the receiver's 120 s
    assert world.sqs.messages[-1]["delay"] == 120
    assert world.delivery().next_attempt_at == pytest.approx(world.clock() + 120)


def test_a_duplicate_message_for_an_attempt_already_made_is_dropped(world):
    # Given a delivery whose first attempt failed (a retry is queued)
    world.subscribe()
    world.deliverer.fan_out(world.event())
    first = world.last_message()
    world.send.script = [AttemptResult(500, 5.0)]
    world.deliverer.attempt(first)

    # When a duplicate of the first message arrives (its attempt_count is stale)
    world.deliverer.attempt(first)

    # Then nothing is sent and nothing changes
    assert len(world.send.calls) == 1 and world.delivery().attempt_count == 1


def test_a_claimed_delivery_makes_the_message_come_back(world):
    # Given a delivery whose attempt another worker has claimed
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.store.claim(world.delivery(), world.clock(), world.clock() + 60)

    # When another copy of its message arrives, then it must come back later; nothing is sent
    with pytest.raises(AttemptRetry):
        world.attempt_last_message()
    assert world.send.calls == []


def test_a_lost_claim_response_is_recognised_as_our_own_claim(world):
    # Given the claim commits while its response is lost (the SDK's retry then fails the condition)
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.store.lose_response("claim")

    # When the attempt is made
    world.attempt_last_message()

    # Then the stored claim is recognised as ours: the attempt is made and recorded
    assert len(world.send.calls) == 1
    assert (world.delivery().status, world.delivery().attempt_count) == ("succeeded", 1)


def test_fan_out_opens_one_delivery_per_subscription_that_wants_the_event(world):
    # Given three subscriptions: one for every job event, one for another action, one disabled
    world.subscribe("sub_1")
    world.subscribe("sub_2", actions=("proposal_pdf",))
    world.subscribe("sub_3", enabled=False)

    # When a diagnostic job's success is fanned out
    count = world.deliverer.fan_out(world.event(action="diagnostic"))

    # Then one delivery is opened and queued, for the one subscription that wants it
    assert count == 1
    assert [key for key in world.store.deliveries] == [("sub_1", EVENT_ID)]
    assert [m["body"]["sub_id"] for m in world.sqs.messages] == ["sub_1"]


def test_a_repeated_fan_out_does_not_restart_a_delivery_already_attempted(world):
    # Given a delivery whose first attempt was made (and failed, a retry is queued)
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.send.script = [AttemptResult(500, 5.0)]
    world.attempt_last_message()
    before, queued = world.delivery(), len(world.sqs.messages)

    # When the same event is announced and fanned out again (events are at least once)
    world.deliverer.fan_out(world.event())

    # Then the delivery is left as it is, and no message is added
    assert world.delivery() == before and len(world.sqs.messages) == queued


def test_a_repeated_fan_out_requeues_a_delivery_that_never_got_an_attempt(world):
    # Given a delivery stored while its first message was lost (a crashed fan-out)
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.sqs.messages.clear()

    # When the event is fanned out again, then its first attempt is queued again
    world.deliverer.fan_out(world.event())
    assert [m["body"]["attempt_count"] for m in world.sqs.messages] == [0]


@pytest.mark.parametrize("raised", [TimeoutError("read timed out"), RuntimeError("bug in send")])
def test_any_exception_in_send_is_a_recorded_failed_attempt(world, raised):
    # Given a send that raises
    world.subscribe()
    world.deliverer.fan_out(world.event())
    world.send.script = [raised]

    # When the attempt is made, it does not raise
    world.attempt_last_message()

    # Then the attempt is recorded as failed, with the error, and retried on schedule
    d = world.delivery()
    assert (d.status, d.attempt_count) == ("pending", 1)
    assert d.attempts[0]["status_code"] is None and type(raised).__name__ in d.attempts[0]["error"]
    assert json.loads(json.dumps(world.sqs.messages[-1]))["delay"] == RETRY_SCHEDULE_S[1]
