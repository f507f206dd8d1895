"""The webhook Deliverer's state machine on in-memory fakes (store, SQS, send, clock): one rule of
webhooks/delivery.py at a time, without moto or a receiver. The fan-out makes each delivery's first
attempt and writes the delivery once, with its result; retries go through messages."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from asyncjobs.errors import InfrastructureError
from asyncjobs.webhooks import delivery as delivery_module
from asyncjobs.webhooks.delivery import RETRY_SCHEDULE_S, AttemptRetry, Deliverer
from asyncjobs.webhooks.http_client import AttemptResult
from asyncjobs.webhooks.models import Delivery, Secret, Subscription, new_secret
from asyncjobs.webhooks.signing import signature_header
from asyncjobs.webhooks.ssrf import Policy
from tests.unit.fakes import FakeClock, FakeSend, FakeSQS, FakeWebhookStore

TENANT = "acme"
JOB_ID = "01a20000-0000-7000-8000-000000000001"
EVENT_ID = f"{JOB_ID}.succeeded"
QUEUE_URL = "https://sqs.example/webhooks"
LOCAL = Policy(require_https=False, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))


class World:
    def __init__(self, policy: Policy = LOCAL) -> None:
        self.clock = FakeClock()
        self.store = FakeWebhookStore()
        self.sqs = FakeSQS()
        self.send = FakeSend()
        self.deliverer = Deliverer(
            self.store,  # type: ignore[arg-type]
            self.sqs,
            QUEUE_URL,
            policy,
            clock=self.clock,
            send=self.send,
        )

    def subscribe(
        self, sub_id: str = "sub_1", url: str = "http://127.0.0.1:9/hook", **fields: Any
    ) -> Subscription:
        sub = Subscription(
            TENANT,
            sub_id,
            url,
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

    def fan_out(self, remaining_s: float = 30.0, **event: Any) -> dict[str, int]:
        return self.deliverer.fan_out(self.event(**event), remaining_s=remaining_s)

    def writes(self) -> list[str]:
        """The delivery writes made so far (subscription writes left out)."""
        reads = {"get_delivery", "get_subscription", "subscriptions", "put_subscription"}
        return [op for op in self.store.calls if op not in reads]


@pytest.fixture
def world() -> World:
    return World()


# -- the fan-out: the first attempt, inline, and one write ---------------------------------


def test_a_first_attempt_answered_2xx_is_one_write_and_no_message(world):
    # Given a subscription
    world.subscribe()

    # When a job event is fanned out and the receiver answers 204
    world.send.script = [AttemptResult(204, 12.0)]
    outcomes = world.fan_out()

    # Then the delivery is written once, succeeded, its attempt in the log, signed with its id
    d = world.delivery()
    assert outcomes == {"succeeded": 1}
    assert (d.status, d.attempt_count, d.claimed_until, d.next_attempt_at) == ("succeeded", 1, None, None)
    assert d.attempts[0]["status_code"] == 204 and d.attempts[0]["latency_ms"] == 12.0
    assert world.send.calls[0]["headers"]["webhook-id"] == EVENT_ID
    assert d.expires_at == datetime(2027, 1, 22, 8, tzinfo=UTC).timestamp()  # the job's expiry
    assert world.writes() == ["create_delivery"]
    assert world.sqs.messages == []


def test_a_failed_first_attempt_is_written_with_its_result_and_its_retry_queued(world):
    # Given a subscription whose receiver answers 500
    world.subscribe()
    world.send.script = [AttemptResult(500, 5.0)]

    # When the job event is fanned out
    outcomes = world.fan_out()

    # Then the delivery is written once, pending after one attempt, and the retry is queued with
    # the schedule's delay, naming the attempt it is
    d = world.delivery()
    assert outcomes == {"retried": 1}
    assert (d.status, d.attempt_count, d.attempts[0]["status_code"]) == ("pending", 1, 500)
    assert d.next_attempt_at == pytest.approx(world.clock() + RETRY_SCHEDULE_S[1])
    assert world.writes() == ["create_delivery"]
    (msg,) = world.sqs.messages
    assert msg["delay"] == RETRY_SCHEDULE_S[1] and msg["body"]["attempt_count"] == 1

    # When the retry's message comes when due and the receiver answers 200, then it succeeded at
    # attempt 2
    world.send.script = [AttemptResult(200, 5.0)]
    world.clock.advance(RETRY_SCHEDULE_S[1])
    world.attempt_last_message()
    d = world.delivery()
    assert (d.status, d.attempt_count, [a["status_code"] for a in d.attempts]) == ("succeeded", 2, [500, 200])
    assert {c["headers"]["webhook-id"] for c in world.send.calls} == {EVENT_ID}


def test_a_duplicate_event_after_the_delivery_is_written_makes_no_attempt(world):
    # Given a job event fanned out and delivered
    world.subscribe()
    world.fan_out()
    before, writes = world.delivery(), world.writes()

    # When the same event comes again (EventBridge is at least once; an executor announces again)
    outcomes = world.fan_out()

    # Then nothing is sent, written or queued
    assert outcomes == {"existing": 1}
    assert len(world.send.calls) == 1 and world.delivery() == before
    assert world.writes() == writes and world.sqs.messages == []


def test_a_duplicate_event_for_a_pending_delivery_queues_its_next_attempt_again(world):
    # Given a delivery whose first attempt failed, its retry's message lost with its invocation
    world.subscribe()
    world.send.script = [AttemptResult(500, 5.0)]
    world.fan_out()
    world.sqs.messages.clear()
    before = world.delivery()

    # When the event is retried, then the retry is queued again, for the attempt it is, and the
    # delivery is left as it is (no second first attempt)
    world.fan_out()
    assert [(m["body"]["attempt_count"], m["delay"]) for m in world.sqs.messages] == [(1, 5)]
    assert world.delivery() == before and len(world.send.calls) == 1


def test_a_duplicate_event_racing_the_first_attempt_writes_nothing_and_queues_nothing(world):
    # Given a receiver failing, and a duplicate of the event fanned out while the first fan-out's
    # POST is under way (after it found no delivery, before it writes one)
    world.subscribe()
    script = FakeSend([AttemptResult(500, 5.0)])
    raced: list[dict[str, int]] = []

    def send(*args: Any) -> AttemptResult:
        if not raced:
            raced.append({})
            world.clock.advance(0.01)  # a moment later
            raced[0] = world.fan_out()  # the duplicate: it finds no delivery either
        return script(*args)

    world.deliverer._send = send

    # When the first fan-out ends
    outcomes = world.fan_out()

    # Then both attempts reached the receiver under one webhook-id, the duplicate's result is the
    # delivery's (one write), and the first fan-out, losing the write, queued nothing
    assert raced == [{"retried": 1}] and outcomes == {"existing": 1}
    assert [c["headers"]["webhook-id"] for c in script.calls] == [EVENT_ID, EVENT_ID]
    assert world.writes() == ["create_delivery", "create_delivery"]
    assert world.delivery().attempt_count == 1
    assert [m["body"]["attempt_count"] for m in world.sqs.messages] == [1]


def test_a_write_whose_response_was_lost_is_recognised_as_its_own(world):
    # Given a failing receiver, and the delivery's write committing while its response is lost
    world.subscribe()
    world.send.script = [AttemptResult(500, 5.0)]
    world.store.lose_response("create_delivery")

    # When the event is fanned out
    outcomes = world.fan_out()

    # Then the write counts as made: the retry is queued once, nothing is sent twice
    assert outcomes == {"retried": 1}
    assert (world.delivery().status, world.delivery().attempt_count) == ("pending", 1)
    assert [m["body"]["attempt_count"] for m in world.sqs.messages] == [1]
    assert len(world.send.calls) == 1


def test_a_crash_after_the_post_repeats_the_attempt_under_the_same_id(world):
    # Given a fan-out whose write fails for good after the receiver got the POST (the fan-out
    # raises, so Lambda retries the event)
    world.subscribe()
    world.store.fail("create_delivery", times=4)
    with pytest.raises(InfrastructureError):
        world.fan_out()
    assert world.store.deliveries == {} and len(world.send.calls) == 1

    # When the event is retried
    world.fan_out()

    # Then the attempt is made again, with the same webhook-id, and the delivery written once
    assert [c["headers"]["webhook-id"] for c in world.send.calls] == [EVENT_ID, EVENT_ID]
    assert (world.delivery().status, world.delivery().attempt_count) == ("succeeded", 1)


def test_a_failed_queueing_after_the_write_is_repaired_by_the_retried_event(world):
    # Given a failed first attempt written, and its retry's message failing for good
    world.subscribe()
    world.send.script = [AttemptResult(500, 5.0), AttemptResult(200, 5.0)]
    world.sqs.send_message = _failing(world.sqs.send_message, times=4)  # type: ignore[method-assign]
    with pytest.raises(InfrastructureError):
        world.fan_out()
    assert world.delivery().attempt_count == 1 and world.sqs.messages == []

    # When the event is retried, then the retry is queued, and made when due
    world.fan_out()
    world.clock.advance(RETRY_SCHEDULE_S[1])
    world.attempt_last_message()
    assert (world.delivery().status, world.delivery().attempt_count) == ("succeeded", 2)
    assert len(world.send.calls) == 2


def _failing(send_message: Any, times: int) -> Any:
    left = [times]

    def send(**kw: Any) -> Any:
        if left[0]:
            left[0] -= 1
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "SendMessage")
        return send_message(**kw)

    return send


def test_with_too_little_time_left_the_delivery_is_queued_without_an_attempt(world):
    # Given a subscription, and an invocation with less time left than an attempt needs
    world.subscribe()

    # When the event is fanned out
    outcomes = world.fan_out(remaining_s=0.5)

    # Then the delivery is written pending, never attempted, and its first attempt queued
    assert outcomes == {"queued": 1} and world.send.calls == []
    d = world.delivery()
    assert (d.status, d.attempt_count) == ("pending", 0)
    assert [m["body"]["attempt_count"] for m in world.sqs.messages] == [0]

    # When its message comes, then the attempt is made from the queue
    world.attempt_last_message()
    assert (world.delivery().status, world.delivery().attempt_count) == ("succeeded", 1)


def test_subscriptions_are_attempted_while_the_invocation_has_time_then_queued(world):
    # Given two subscriptions, the first one's receiver hanging until the attempt is cut off, in
    # an invocation with 2 s left
    world.subscribe("sub_1")
    world.subscribe("sub_2")
    timeouts: list[float] = []

    def hanging(target: Any, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
        timeouts.append(timeout)
        time.sleep(timeout)
        return AttemptResult(None, timeout * 1000, "timeout: no complete answer")

    world.deliverer._send = hanging

    # When the event is fanned out
    outcomes = world.fan_out(remaining_s=2.0)

    # Then the first is attempted inline, cut off early enough to leave time to write and queue
    # (and to queue the second), and the second, no time being left for an attempt, is queued
    assert outcomes == {"retried": 1, "queued": 1}
    assert len(timeouts) == 1 and timeouts[0] < 2.0 - 0.2
    assert world.delivery("sub_1").attempts[0]["error"].startswith("timeout")
    assert (world.delivery("sub_2").status, world.delivery("sub_2").attempt_count) == ("pending", 0)
    assert sorted((m["body"]["sub_id"], m["body"]["attempt_count"]) for m in world.sqs.messages) == [
        ("sub_1", 1),
        ("sub_2", 0),
    ]


def test_a_healthy_receiver_after_a_hanging_one_is_not_cut_off(world):
    # Given two subscriptions: the first one's receiver hangs, the second answers in 0.8 s
    world.subscribe("sub_1", url="http://127.0.0.1:9/hangs")
    world.subscribe("sub_2", url="http://127.0.0.2:9/healthy")

    def send(target: Any, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
        needs = 60.0 if target.path == "/hangs" else 0.8
        time.sleep(min(needs, timeout))
        if needs > timeout:
            return AttemptResult(None, timeout * 1000, "timeout: no complete answer")
        return AttemptResult(200, needs * 1000)

    world.deliverer._send = send

    # When the event is fanned out in an invocation with 3 s left
    world.fan_out(remaining_s=3.0)

    # Then the healthy receiver is not cut short by what the hanging one left: it is delivered, or
    # its first attempt queued (to be made with a queued attempt's time), never a failed timeout
    healthy = world.delivery("sub_2")
    assert healthy.status == "succeeded" or healthy.attempt_count == 0, healthy.attempts


def test_the_first_subscription_is_attempted_inline_even_after_slow_reads(world):
    # Given a subscription, an invocation with 2 s left (the fault-injection suite's timeout), and
    # a slow read of the subscriptions (throttled, retried)
    world.subscribe()
    read = world.store.subscriptions

    def slow_read(tenant_id: str) -> list[Subscription]:
        time.sleep(0.5)
        return read(tenant_id)

    world.store.subscriptions = slow_read  # type: ignore[method-assign]

    # When the event is fanned out
    outcomes = world.fan_out(remaining_s=2.0)

    # Then its first attempt is still made inline (with what is left), not queued
    assert outcomes == {"succeeded": 1} and len(world.send.calls) == 1
    assert world.sqs.messages == []


def test_a_quick_fan_out_reads_no_subscription_again(world):
    # Given two subscriptions whose receivers answer at once
    world.subscribe("sub_1")
    world.subscribe("sub_2")
    world.store.calls.clear()

    # When the event is fanned out
    outcomes = world.fan_out()

    # Then the subscriptions were read once, in the list: the list was fresh for both attempts
    assert outcomes == {"succeeded": 2}
    assert [op for op in world.store.calls if "subscription" in op] == ["subscriptions"]


def _changed_during_the_first_attempt(
    world: World, monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]
) -> list[Any]:
    """Fans the event out to sub_1 and sub_2, `change` made while sub_1's receiver takes longer
    than the list of subscriptions stays fresh. Returns what was sent, in order."""
    monkeypatch.setattr(delivery_module, "SUBSCRIPTION_FRESH_S", 0.1)
    sent: list[Any] = []

    def send(target: Any, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
        sent.append((target, headers))
        if len(sent) == 1:
            change()
            time.sleep(0.15)
        return AttemptResult(200, 3.0)

    world.deliverer._send = send
    world.outcomes = world.fan_out(remaining_s=30.0)  # type: ignore[attr-defined]
    return sent


def test_fan_out_does_not_post_to_a_subscription_disabled_during_the_fan_out(world, monkeypatch):
    # Given two subscriptions, the tenant disabling the second while the first one's receiver answers
    world.subscribe("sub_1", url="http://127.0.0.1:9/one")
    world.subscribe("sub_2", url="http://127.0.0.2:9/two")
    key = (TENANT, "sub_2")

    def disable() -> None:
        world.store.subs[key] = replace(world.store.subs[key], enabled=False)

    # When the event is fanned out
    sent = _changed_during_the_first_attempt(world, monkeypatch, disable)

    # Then the disabled subscription is not posted to, and gets no delivery
    assert [target.address for target, _ in sent] == ["127.0.0.1"], sent
    assert world.outcomes == {"succeeded": 1, "skipped": 1}  # type: ignore[attr-defined]
    assert world.store.get_delivery("sub_2", EVENT_ID) is None


def test_fan_out_writes_no_delivery_for_a_subscription_deleted_during_the_fan_out(world, monkeypatch):
    # Given two subscriptions, the tenant deleting the second while the first one's receiver answers
    world.subscribe("sub_1", url="http://127.0.0.1:9/one")
    world.subscribe("sub_2", url="http://127.0.0.2:9/two")

    # When the event is fanned out
    sent = _changed_during_the_first_attempt(
        world, monkeypatch, lambda: world.store.subs.pop((TENANT, "sub_2"))
    )

    # Then the deleted subscription is not posted to, and has no (orphan) delivery
    assert [target.address for target, _ in sent] == ["127.0.0.1"], sent
    assert list(world.store.deliveries) == [("sub_1", EVENT_ID)]


def test_no_time_left_queues_no_delivery_for_a_subscription_deleted_during_the_fan_out(world):
    # Given two subscriptions, the first one's receiver hanging (longer than the list of
    # subscriptions stays fresh) while the tenant deletes the second
    world.subscribe("sub_1")
    world.subscribe("sub_2")

    def hanging(target: Any, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
        world.store.subs.pop((TENANT, "sub_2"), None)
        time.sleep(timeout)
        return AttemptResult(None, timeout * 1000, "timeout: no complete answer")

    world.deliverer._send = hanging

    # When the event is fanned out in an invocation with 2 s left (none left for sub_2's attempt)
    outcomes = world.fan_out(remaining_s=2.0)

    # Then sub_2 gets no (orphan) pending delivery and no message: only sub_1's retry is queued
    assert outcomes == {"retried": 1, "skipped": 1}
    assert list(world.store.deliveries) == [("sub_1", EVENT_ID)]
    assert [m["body"]["sub_id"] for m in world.sqs.messages] == ["sub_1"]


def test_fan_out_posts_to_the_url_and_with_the_secret_a_subscription_has_now(world, monkeypatch):
    # Given two subscriptions, the tenant changing the second's URL and rotating its secret (no
    # overlap) while the first one's receiver answers
    world.subscribe("sub_1", url="http://127.0.0.1:9/one")
    world.subscribe("sub_2", url="http://127.0.0.2:9/old")
    key, rotated = (TENANT, "sub_2"), new_secret()

    def patch() -> None:
        world.store.subs[key] = replace(
            world.store.subs[key], url="http://127.0.0.2:9/new", secrets=(Secret(rotated, world.clock()),)
        )

    # When the event is fanned out
    sent = _changed_during_the_first_attempt(world, monkeypatch, patch)

    # Then the second attempt goes to the new URL, signed with the new secret (the one the
    # receiver now verifies with)
    target, headers = sent[1]
    assert target.path == "/new", target
    d = world.delivery("sub_2")
    assert d.status == "succeeded"
    signed_at = int(headers["webhook-timestamp"])
    assert headers["webhook-signature"] == signature_header([rotated], EVENT_ID, signed_at, d.payload)


def test_fan_out_opens_one_delivery_per_subscription_that_wants_the_event(world):
    # Given three subscriptions: one for every job event, one for another action, one disabled
    world.subscribe("sub_1")
    world.subscribe("sub_2", actions=("proposal_pdf",))
    world.subscribe("sub_3", enabled=False)

    # When a diagnostic job's success is fanned out
    outcomes = world.fan_out(action="diagnostic")

    # Then one delivery is made, to the one subscription that wants it
    assert outcomes == {"succeeded": 1}
    assert [key for key in world.store.deliveries] == [("sub_1", EVENT_ID)]
    assert [c["target"].path for c in world.send.calls] == ["/hook"]


def test_410_gone_on_the_first_attempt_disables_the_subscription(world):
    # Given a receiver that answers 410 Gone
    world.subscribe()
    world.send.script = [AttemptResult(410, 5.0)]

    # When the event is fanned out
    world.fan_out()

    # Then the delivery failed without a retry, and the subscription is disabled saying why
    assert world.delivery().status == "failed"
    sub = world.store.get_subscription(TENANT, "sub_1")
    assert not sub.enabled and "410" in (sub.disabled_reason or "")
    assert world.sqs.messages == []


def test_retry_after_on_the_first_attempt_lengthens_the_wait(world):
    # Given a receiver answering 429 with Retry-After: 120 (longer than the schedule's 5 s)
    world.subscribe()
    world.send.script = [AttemptResult(429, 5.0, retry_after_s=120)]

    # When the event is fanned out, then the retry waits the receiver's 120 s
    world.fan_out()
    assert world.sqs.messages[-1]["delay"] == 120
    assert world.delivery().next_attempt_at == pytest.approx(world.clock() + 120)


def test_the_first_attempt_checks_the_address_at_delivery_time():
    # Given a subscription whose host is (now) a private address, under the deployed policy
    world = World(policy=Policy())
    world.subscribe(url="https://10.0.0.7/hook")

    # When the event is fanned out, then nothing is sent; the refusal is a recorded failed attempt
    world.fan_out()
    d = world.delivery()
    assert world.send.calls == []
    assert (d.status, d.attempt_count) == ("pending", 1)
    assert d.attempts[0]["error"].startswith("refused:")


def test_fan_out_stays_within_remaining_time_when_dns_is_slow(world, monkeypatch):
    # Given a subscription whose host takes 2.5 s to resolve (the SSRF check resolves it)
    world.subscribe()
    real = delivery_module.check_url

    def slow_check(url: str, policy: Policy, *args: Any, **kw: Any) -> Any:
        time.sleep(2.5)
        return real(url, policy, *args, **kw)

    monkeypatch.setattr(delivery_module, "check_url", slow_check)

    # When the event is fanned out in an invocation with 2 s left
    started = time.monotonic()
    world.fan_out(remaining_s=2.0)

    # Then the fan-out ends in time, the attempt recorded as a failed one (DNS timeout) and retried
    assert time.monotonic() - started < 2.0
    assert world.send.calls == []
    d = world.delivery()
    assert (d.status, d.attempt_count) == ("pending", 1)
    assert d.attempts[0]["error"].startswith("dns timeout")
    assert [m["body"]["attempt_count"] for m in world.sqs.messages] == [1]


def test_410_gone_disables_the_subscription_despite_a_transient_failure(world):
    # Given a receiver that answers 410 Gone, and the subscription's disable failing once
    world.subscribe()
    world.send.script = [AttemptResult(410, 5.0)]
    world.store.fail("disable")

    # When the event is fanned out, it does not raise (Lambda would POST the receiver again)
    world.fan_out()

    # Then the disable was retried in place: the subscription is disabled, the delivery failed
    assert not world.store.get_subscription(TENANT, "sub_1").enabled
    assert world.delivery().status == "failed" and len(world.send.calls) == 1


@pytest.mark.parametrize("raised", [TimeoutError("read timed out"), RuntimeError("bug in send")])
def test_any_exception_in_send_is_a_recorded_failed_attempt(world, raised):
    # Given a send that raises
    world.subscribe()
    world.send.script = [raised]

    # When the event is fanned out, it does not raise
    world.fan_out()

    # Then the attempt is recorded as failed, with the error, and retried on schedule
    d = world.delivery()
    assert (d.status, d.attempt_count) == ("pending", 1)
    assert d.attempts[0]["status_code"] is None and type(raised).__name__ in d.attempts[0]["error"]
    assert json.loads(json.dumps(world.sqs.messages[-1]))["delay"] == RETRY_SCHEDULE_S[1]


# -- retries: one attempt per message --------------------------------------------------------


def _failed_first(world: World, then: list[AttemptResult | Exception]) -> None:
    """A delivery whose first attempt (in the fan-out) got a 500; `then` answers the retries."""
    world.subscribe()
    world.send.script = [AttemptResult(500, 5.0)]
    world.fan_out()
    world.send.script = then
    world.clock.advance(RETRY_SCHEDULE_S[1])  # the retry is due


def test_a_used_up_schedule_exhausts_the_delivery(world):
    # Given a receiver that always answers 503
    _failed_first(world, [AttemptResult(503, 5.0)])

    # When every retry of the schedule is made, each when it is due
    for _ in RETRY_SCHEDULE_S[1:]:
        world.clock.now = max(world.clock(), world.delivery().next_attempt_at or 0)
        world.attempt_last_message()

    # Then the delivery is exhausted after len(schedule) attempts, with no further message queued
    d = world.delivery()
    assert (d.status, d.attempt_count) == ("exhausted", len(RETRY_SCHEDULE_S))
    assert len(world.sqs.messages) == len(RETRY_SCHEDULE_S) - 1  # one per retry


def test_410_gone_on_a_retry_disables_the_subscription(world):
    # Given a delivery being retried, and the receiver now answering 410 Gone
    _failed_first(world, [AttemptResult(410, 5.0)])

    # When the retry is made, then the delivery failed, the subscription is disabled, no retry
    world.attempt_last_message()
    assert world.delivery().status == "failed"
    assert not world.store.get_subscription(TENANT, "sub_1").enabled
    assert len(world.sqs.messages) == 1


def test_a_retry_of_a_subscription_disabled_meanwhile_is_skipped(world):
    # Given a delivery being retried, its subscription disabled since
    _failed_first(world, [AttemptResult(200, 5.0)])
    sub = world.store.get_subscription(TENANT, "sub_1")
    world.store.subs[(TENANT, "sub_1")] = Subscription(**{**sub.__dict__, "enabled": False})

    # When the retry's message comes, then nothing is sent and the delivery is skipped
    world.attempt_last_message()
    assert world.delivery().status == "skipped" and len(world.send.calls) == 1


def test_a_duplicate_message_for_an_attempt_already_made_is_dropped(world):
    # Given a delivery whose first retry failed (the next is queued)
    _failed_first(world, [AttemptResult(500, 5.0)])
    first_retry = world.last_message()
    world.deliverer.attempt(first_retry)
    world.clock.advance(RETRY_SCHEDULE_S[2])

    # When a duplicate of the first retry's message arrives (its attempt_count is stale)
    world.deliverer.attempt(first_retry)

    # Then nothing is sent and nothing changes
    assert len(world.send.calls) == 2 and world.delivery().attempt_count == 2


def test_a_claimed_delivery_makes_the_message_come_back(world):
    # Given a delivery whose retry another worker has claimed
    _failed_first(world, [AttemptResult(200, 5.0)])
    world.store.claim(world.delivery(), world.clock(), world.clock() + 60)

    # When another copy of its message arrives, then it must come back later; nothing is sent
    with pytest.raises(AttemptRetry):
        world.attempt_last_message()
    assert len(world.send.calls) == 1


def test_a_lost_claim_response_is_recognised_as_our_own_claim(world):
    # Given the retry's claim commits while its response is lost (the SDK's retry then fails)
    _failed_first(world, [AttemptResult(200, 5.0)])
    world.store.lose_response("claim")

    # When the retry is made
    world.attempt_last_message()

    # Then the stored claim is recognised as ours: the attempt is made and recorded
    assert len(world.send.calls) == 2
    assert (world.delivery().status, world.delivery().attempt_count) == ("succeeded", 2)


def test_a_queued_first_attempt_requeued_by_a_duplicate_event_is_made_once(world):
    # Given a delivery queued without an attempt (no time was left), its event then fanned out
    # again (so two messages name its first attempt)
    world.subscribe()
    world.fan_out(remaining_s=0.5)
    world.fan_out(remaining_s=0.5)
    assert [m["body"]["attempt_count"] for m in world.sqs.messages] == [0, 0]

    # When both messages are processed, then one attempt is made
    for message in list(world.sqs.messages):
        world.deliverer.attempt(message["body"])
    assert len(world.send.calls) == 1 and world.delivery().attempt_count == 1


def test_an_exhausted_delivery_is_counted_once_in_the_alarmed_metric(world, capsys, translated):
    # Given a delivery whose receiver always answers 503
    _failed_first(world, [AttemptResult(503, 5.0)])

    # When every retry of the schedule is made, each when it is due
    for _ in RETRY_SCHEDULE_S[1:]:
        world.clock.now = max(world.clock(), world.delivery().next_attempt_at or 0)
        world.attempt_last_message()

    # Then exactly one WebhookDeliveriesExhausted is printed (EMF), in the namespace and with the
    # dimensions of template.yaml's WebhookDeliveriesExhaustedAlarm
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]
    counted = [
        (doc, d)
        for doc in emf
        for d in doc["_aws"]["CloudWatchMetrics"]
        if [m["Name"] for m in d["Metrics"]] == ["WebhookDeliveriesExhausted"]
    ]
    assert len(counted) == 1
    doc, directive = counted[0]
    alarm = translated.cfn["Resources"]["WebhookDeliveriesExhaustedAlarm"]["Properties"]
    assert directive["Namespace"] == alarm["Namespace"]
    assert {name: doc[name] for name in directive["Dimensions"][0]} == {
        d["Name"]: d["Value"] for d in alarm["Dimensions"]
    }
    assert doc["WebhookDeliveriesExhausted"] == [1.0]
