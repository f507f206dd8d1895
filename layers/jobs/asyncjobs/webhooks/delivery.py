"""Webhook delivery: fan-out of a job event to its subscriptions, each delivery's first attempt
made there and then, and the retries one signed attempt per message.

The first attempt is made by the fan-out itself (the invocation the job event started), and the
delivery is written once, with that attempt's result: `succeeded`, `failed` (410), or `pending`
with its next attempt's time, whose message then goes on `WebhookQueue`. A delivered webhook thus
costs the fan-out's reads (the subscriptions, whether the delivery exists) and one PutItem: no SQS
message, no second invocation, no claim. Subscriptions are attempted one after the other, each
within what the invocation has left (`attempt_budget`: 15 s at most, time kept to write and queue,
and QUEUE_S for each subscription still to come). An inline attempt gets what a queued one would
(INLINE_SHARE at least of what the invocation had for one attempt when it started, up to 15 s),
never the remains of a fan-out short of time: a subscription whose turn comes with less is
written `pending` and its first attempt queued, as all retries are (the first subscription is
attempted with whatever the invocation has, MIN_ATTEMPT_S at least, as a queued attempt is).
The whole attempt, DNS included, ends by its deadline: the SSRF check's resolution is waited for
until then only, a host not resolved by then being a failed attempt (`dns timeout`).

Subscriptions are read once, at the start. Before a delivery is attempted or queued when that
list is more than SUBSCRIPTION_FRESH_S old (an earlier receiver was slow), the subscription is read again, so
a subscription disabled, deleted or changed (URL, secret, events) meanwhile is not posted to with
what it was: one gone, disabled or no longer wanting the event gets no delivery at all (its log
shows none for this event, as if it had changed before the job ended), and the others are posted
to their current URL with their current secrets. A change made within SUBSCRIPTION_FRESH_S of an
attempt may still be missed, as it would be by any attempt already under way. The same goes for
a delivery written `pending` and queued for want of time (no orphan delivery for a subscription
deleted meanwhile); its attempt reads the subscription again when made, as every retry does.

Order: read (does the delivery exist?), read the subscription again if the list is old, attempt,
then one conditional PutItem ("if absent") of the delivery with its result, then, for a failed
attempt, the retry's message. Writing first ("attempt in progress") and then the result would be
two writes per delivery, the cost this order saves.
Failure cases:
- a duplicate event (EventBridge is at least once; an executor announces an ended job again)
  after the delivery is written finds it and makes no attempt; if it is still `pending`, the
  duplicate queues its next attempt again, in case the first invocation died before queueing it
  (a duplicate message is harmless: the attempt it names is claimed, and made once);
- a duplicate event arriving while the first fan-out is still attempting (between its read and its
  write) attempts too: the receiver gets the same `webhook-id` twice, as at-least-once webhooks
  allow. Its write then loses and it queues nothing: the winner's result is the delivery's (and
  the winner queues its retry); the loser's attempt is in the function's log, not the delivery's;
- a crash (or a write failing for good) between the POST and the write leaves no delivery: the
  event is retried (Lambda's asynchronous tries, then WebhookDLQ) and attempts again, with the same
  `webhook-id`; the unrecorded attempt is only in the function's log;
- a write whose response was lost fails its own condition on the SDK's retry: the store reads the
  delivery back and recognises its own write (see `WebhookStore.create_delivery`);
- a 410's disable of the subscription is retried in place: failing, it would have the event (or
  the message) retried and the receiver POSTed again, as happens if it fails for good;
- a crash between the write of a failed attempt and its retry's message leaves the delivery
  `pending` with no message: the retried event queues it (above); `recover` picks up any left
  over an hour (`Deliverer.stale`).

Retries are cloud-managed by SQS: each one is a message on `WebhookQueue`, a failed attempt
scheduling the next as a new message delayed by the Standard Webhooks schedule (0, 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 10 h: 8 attempts over ~27.6 h). SQS delays a message 15 minutes at most,
so a longer wait is a chain of 15-minute hops (a ~24 h wait costs ~100 messages and invocations
of a few ms, paid only by failing endpoints). Chosen over EventBridge Scheduler: no other service,
no per-schedule clean-up, the same code path runs locally on moto, and SQS's own redelivery covers
crashes. The message of a retry is deleted only after the next one is queued and the result
recorded; a crash anywhere before that brings the same message back after the visibility timeout.
Duplicate messages (a crash after queueing, SQS's at-least-once) cannot double an attempt: each
retry is claimed with a conditional write first, and losers let go.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from asyncjobs.aws.clients import AWS_ERRORS
from asyncjobs.aws.dynamo import ConditionFailed
from asyncjobs.errors import InfrastructureError, NotFound, retry_transient
from asyncjobs.observability import NAMESPACE, SERVICE, logger
from asyncjobs.webhooks.http_client import TIMEOUT_S, AttemptResult, elapsed_ms, http_post
from asyncjobs.webhooks.models import STATUS_EVENT, Delivery, Subscription
from asyncjobs.webhooks.signing import request_headers
from asyncjobs.webhooks.ssrf import Policy, Target, UnsafeTarget, check_url, check_url_by
from asyncjobs.webhooks.store import WebhookStore

# Standard Webhooks / Svix schedule: 8 attempts over ~27.6 hours (delay before each attempt).
RETRY_SCHEDULE_S = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
RECORD_MARGIN_S = 5.0  # kept for recording the result (a quarter of what is left, when less)
MIN_ATTEMPT_S = 0.5  # with less time left, a message comes back later; a fan-out queues instead
MIN_SEND_S = 0.1  # with less left once DNS has answered, the request is not sent: a DNS timeout
CLAIM_S = 60.0  # the longest claim: one attempt never takes longer (the function's timeout is 30 s)
MAX_SQS_DELAY_S = 900
QUEUE_S = 0.2  # kept per subscription still to open, to write and queue it when time runs out
# An inline attempt after the first needs this share of what the invocation had for one attempt
# when it started (up to TIMEOUT_S), else it is queued: a queued attempt gets a fresh invocation's
# budget, and cutting a healthy but not instant receiver short would cost it a failed attempt and
# a second POST 5 s later. The 20 % left is slack for the reads before an attempt (a queued one
# makes them too) and the QUEUE_S kept for the subscriptions after it.
INLINE_SHARE = 0.8
# How old the fan-out's list of subscriptions may be before a delivery's turn reads its
# subscription again. Short enough that a change the API acknowledged is seen by any attempt
# starting a second later; long enough that a fan-out to quick receivers (the common case: its
# reads and POSTs take milliseconds) reads no subscription again, and a webhook delivered at once
# keeps costing one Query, one GetItem and one PutItem.
SUBSCRIPTION_FRESH_S = 1.0
STALE_PENDING_S = 3600  # a pending delivery this overdue lost its message (see Deliverer.stale)
MAX_RETRY_AFTER_S = 86400


class AttemptRetry(Exception):
    """The attempt a message asks for cannot be made now: the message must come back later."""


def attempt_budget(remaining_s: float) -> float:
    """Seconds one attempt may take when the invocation has `remaining_s` left: TIMEOUT_S at
    most, and always leaving time to record the result and queue the retry."""
    return min(TIMEOUT_S, remaining_s - min(RECORD_MARGIN_S, remaining_s / 4))


def _epoch(value: Any) -> float | None:
    """An ISO 8601 time from an event as epoch seconds (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def retry_delay(attempts_made: int, retry_after_s: float | None, time_scale: float = 1.0) -> float | None:
    """Seconds before the next attempt after `attempts_made` failed ones, or None when the
    schedule is used up. A receiver's Retry-After (429/503) can lengthen the wait, up to a day."""
    if attempts_made >= len(RETRY_SCHEDULE_S):
        return None
    delay = float(RETRY_SCHEDULE_S[attempts_made])
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay * time_scale


def event_payload(event: dict[str, Any]) -> tuple[str, str]:
    """(event type, JSON body) for a job event from the bus, in the Standard Webhooks shape."""
    detail = event["detail"]
    event_type = STATUS_EVENT[detail["status"]]
    data = {k: v for k, v in detail.items() if k != "event_id"}
    body = {"type": event_type, "timestamp": detail.get("finished_at") or event.get("time"), "data": data}
    return event_type, json.dumps(body, separators=(",", ":"))


class Deliverer:
    def __init__(
        self,
        store: WebhookStore,
        sqs: Any,
        queue_url: str,
        policy: Policy,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        send: Callable[[Target, bytes, dict[str, str], float], AttemptResult] = http_post,
    ) -> None:
        self.store = store
        self._sqs = sqs
        self._queue_url = queue_url
        self.policy = policy
        self.time_scale = time_scale
        self.clock = clock
        self._send = send

    # -- queueing --------------------------------------------------------------------------
    def enqueue(self, d: Delivery, delay_s: float = 0.0, attempt_count: int | None = None) -> None:
        """Queues an attempt of `d`. The message names the attempt count it expects to find, so a
        duplicate message arriving after that attempt was made is recognised and dropped."""
        expected = d.attempt_count if attempt_count is None else attempt_count
        body = json.dumps(
            {
                "tenant_id": d.tenant_id,
                "sub_id": d.sub_id,
                "delivery_id": d.delivery_id,
                "attempt_count": expected,
            }
        )
        delay = int(min(MAX_SQS_DELAY_S, max(0, math.ceil(delay_s))))
        try:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=body, DelaySeconds=delay)
        except AWS_ERRORS as exc:
            raise InfrastructureError(f"SQS SendMessage failed: {exc}") from exc

    def open_delivery(
        self,
        sub: Subscription,
        delivery_id: str,
        event_type: str,
        payload: str,
        job_id: str | None = None,
        expires_at: float | None = None,
    ) -> Delivery:
        """Stores a pending delivery and queues its first attempt (a ping; a fan-out short of time).
        An existing delivery (the same event announced again) is queued again if still pending."""
        return self._open_queued(
            self._new_delivery(sub, delivery_id, event_type, payload, job_id, expires_at)
        )

    def _open_queued(self, d: Delivery) -> Delivery:
        if not self.store.create_delivery(d):
            existing = self.store.get_delivery(d.sub_id, d.delivery_id)
            return d if existing is None else self._requeue_if_pending(existing)
        self.enqueue(d)
        return d

    def _new_delivery(
        self,
        sub: Subscription,
        delivery_id: str,
        event_type: str,
        payload: str,
        job_id: str | None,
        expires_at: float | None,
    ) -> Delivery:
        now = self.clock()
        return Delivery(
            sub.sub_id,
            delivery_id,
            sub.tenant_id,
            event_type,
            payload,
            "pending",
            now,
            next_attempt_at=now,
            job_id=job_id,
            expires_at=expires_at,
        )

    def _requeue_if_pending(self, existing: Delivery) -> Delivery:
        """A delivery found existing when its event came again. If it is still pending, its next
        attempt's message may have been lost with an invocation that died between writing it and
        queueing the message: queued again (a duplicate message is harmless: attempts are claimed,
        and made once)."""
        if not existing.terminal:
            due = existing.next_attempt_at if existing.next_attempt_at is not None else existing.created_at
            self.enqueue(existing, max(0.0, due - self.clock()))
        return existing

    def fan_out(self, event: dict[str, Any], remaining_s: float = CLAIM_S) -> dict[str, int]:
        """One delivery per subscription of the job's tenant that wants this event, its first
        attempt made here while the invocation (`remaining_s` left) has the time a queued attempt
        would have; the others are queued. Returns how many deliveries were delivered, are
        retried, were queued without an attempt, already existed, and how many subscriptions were
        skipped (disabled, deleted or changed since the list was read)."""
        listed_at = time.monotonic()  # before the read: the list is at least this old
        ends_at = listed_at + remaining_s
        # What a queued attempt would get (a fresh invocation's budget), give or take the reads.
        inline_s = max(MIN_ATTEMPT_S, min(TIMEOUT_S, INLINE_SHARE * attempt_budget(remaining_s)))
        detail = event["detail"]
        event_type, payload = event_payload(event)
        action = detail.get("action")
        expires_at = _epoch(detail.get("expires_at"))  # the delivery log keeps it as long as the job
        subs = [s for s in self.store.subscriptions(detail["tenant_id"]) if s.wants(event_type, action)]

        def current(sub: Subscription) -> Subscription | None:
            """`sub` as it is now, when the list is old enough to be out of date; None when it is
            gone, disabled or no longer wants the event."""
            if time.monotonic() - listed_at <= SUBSCRIPTION_FRESH_S:
                return sub
            try:
                fresh = retry_transient(
                    lambda: self.store.get_subscription(sub.tenant_id, sub.sub_id), tries=4
                )
            except NotFound:
                return None
            return fresh if fresh.wants(event_type, action) else None

        outcomes: Counter[str] = Counter()
        for n, sub in enumerate(subs):
            d = self._new_delivery(sub, detail["event_id"], event_type, payload, detail["job_id"], expires_at)
            # Time kept for queueing the subscriptions after this one, should their turn find none.
            reserve_s = QUEUE_S * (len(subs) - n - 1)
            # The first is attempted with what there is (as a queued attempt would be), the reads
            # before it notwithstanding: queueing it would cost a message and an invocation.
            needed_s = MIN_ATTEMPT_S if n == 0 else inline_s
            # AWS calls are retried in place: Lambda gives the fan-out only three asynchronous
            # tries before its event goes to the dead-letter queue.
            outcomes[self._open_and_attempt(sub, d, ends_at - reserve_s, needed_s, current)] += 1
        logger.info(
            "job event fanned out",
            extra={"job_id": detail["job_id"], "deliveries": len(subs), "outcomes": dict(outcomes)},
        )
        return dict(outcomes)

    def _open_and_attempt(
        self,
        sub: Subscription,
        d: Delivery,
        ends_at: float,
        needed_s: float,
        current: Callable[[Subscription], Subscription | None],
    ) -> str:
        existing = retry_transient(lambda: self.store.get_delivery(d.sub_id, d.delivery_id), tries=4)
        if existing is not None:  # the same event again: no second delivery, no second first attempt
            retry_transient(lambda: self._requeue_if_pending(existing), tries=4)
            return "existing"
        fresh = current(sub)
        if fresh is None:
            logger.info(
                "no delivery: the subscription was deleted, disabled or changed during the fan-out",
                extra={"delivery_id": d.delivery_id, "sub_id": d.sub_id},
            )
            return "skipped"
        if attempt_budget(ends_at - time.monotonic()) < needed_s:
            retry_transient(lambda: self._open_queued(d), tries=4)
            return "queued"
        attempt, status, next_at, delay = self._judge(fresh, d, self._post(fresh, d, ends_at))
        first = replace(d, status=status, attempt_count=1, attempts=(attempt,), next_attempt_at=next_at)
        self._log_attempt(first, attempt, status, 1)  # before the write: it may fail, or lose
        if not retry_transient(lambda: self.store.create_delivery(first), tries=4):
            # A duplicate of the event wrote the delivery first: its result is the delivery's, and
            # it queues the retry if one is due. This attempt reached the receiver all the same.
            logger.warning(
                "webhook attempt not recorded: a duplicate of its event wrote the delivery first",
                extra={"delivery_id": d.delivery_id, "sub_id": d.sub_id},
            )
            return "existing"
        if delay is not None:
            retry_transient(lambda: self.enqueue(first, delay), tries=4)
        return "retried" if delay is not None else status

    def restart(self, d: Delivery) -> Delivery | None:
        """Puts a delivery back on its schedule from the start and queues its attempt (redeliver,
        recover). None while an attempt of it is being made (claimed). Should the message not go
        out, the delivery stays `pending` without one: `recover` picks such stale deliveries up."""
        try:
            restarted = self.store.restart(d, self.clock())
        except ConditionFailed:
            return None
        self.enqueue(restarted)
        return restarted

    def stale(self, d: Delivery) -> bool:
        """A pending delivery whose attempt is long overdue: its message was lost (a send that
        failed after the delivery was stored). Healthy ones are never this late: even waits
        longer than SQS's 15-minute delay hop every 15 minutes."""
        due = d.next_attempt_at if d.next_attempt_at is not None else d.created_at
        return d.status == "pending" and due < self.clock() - STALE_PENDING_S

    # -- one attempt -----------------------------------------------------------------------
    def attempt(self, message: dict[str, Any], remaining_s: float = CLAIM_S) -> None:
        """Makes the attempt a message asks for. Returns when the message is done with; raises
        (AttemptRetry, InfrastructureError) when it must come back."""
        ends_at = time.monotonic() + remaining_s
        d = self.store.get_delivery(message["sub_id"], message["delivery_id"])
        if d is None or d.terminal:
            return
        if message.get("attempt_count", d.attempt_count) != d.attempt_count:
            return  # a duplicate of a message whose attempt was already made
        logger.append_keys(delivery_id=d.delivery_id, sub_id=d.sub_id, job_id=d.job_id)
        now = self.clock()
        if d.next_attempt_at is not None and now < d.next_attempt_at - 0.5:
            self.enqueue(d, d.next_attempt_at - now)  # a wait longer than SQS's 15-minute delay
            return
        try:
            sub = self.store.get_subscription(d.tenant_id, d.sub_id)
        except NotFound:
            sub = None
        if sub is None or not sub.enabled:
            self.store.finish_without_attempt(d, "skipped")
            logger.info("delivery skipped: subscription deleted or disabled")
            return
        if attempt_budget(ends_at - time.monotonic()) < MIN_ATTEMPT_S:
            raise AttemptRetry("too little time left in this invocation for an attempt")
        until = round(now + min(remaining_s, CLAIM_S) + 1.0, 3)
        try:
            # The claim lasts as long as this invocation can: shorter than the queue's visibility
            # timeout, so a crashed attempt's message comes back to an expired claim.
            d = self.store.claim(d, now, until)
        except ConditionFailed as exc:
            # Our own claim may have committed with its response lost (the SDK's retry then fails
            # the condition): the stored claim is then exactly ours. Otherwise another copy of this
            # message is making the attempt, or crashed while making it: come back after the
            # visibility timeout (longer than a claim) and look again.
            current = self.store.get_delivery(d.sub_id, d.delivery_id)
            if not (
                current is not None
                and current.status == "pending"
                and current.attempt_count == d.attempt_count
                and current.claimed_until is not None
                and abs(current.claimed_until - until) < 0.001
            ):
                raise AttemptRetry("the attempt is claimed by another worker") from exc
            d = current
        try:
            self._conclude(sub, d, self._post(sub, d, ends_at))
        except Exception:
            self._release(d)
            raise

    def _release(self, d: Delivery) -> None:
        try:
            self.store.release(d)
        except (ConditionFailed, InfrastructureError):
            logger.warning("claim not released; the retry waits for it to expire")

    def _post(self, sub: Subscription, d: Delivery, ends_at: float) -> AttemptResult:
        """The attempt itself, DNS included, done by its deadline (what `attempt_budget` gives it,
        set before anything else). Whatever goes wrong (a URL or header the request cannot carry, a
        signing error, DNS, the network, the receiver) is a failed attempt, recorded and retried."""
        started = time.monotonic()
        deadline = started + attempt_budget(ends_at - started)
        try:
            target = self._check_by(sub.url, deadline)  # again now: DNS may have changed since
        except UnsafeTarget as exc:
            return AttemptResult(None, 0.0, f"refused: {exc}")
        except Exception as exc:  # recorded, never a crash
            return AttemptResult(None, elapsed_ms(started), f"refused: {type(exc).__name__}: {exc}"[:300])
        if target is None or deadline - time.monotonic() < MIN_SEND_S:
            return AttemptResult(
                None,
                elapsed_ms(started),
                f"dns timeout: the host did not resolve within the attempt's {deadline - started:.1f} s",
            )
        try:
            headers = request_headers(sub, d, self.clock())
            return self._send(target, d.payload.encode(), headers, deadline - time.monotonic())
        except Exception as exc:  # recorded, never a crash
            logger.warning("webhook attempt failed before an answer", exc_info=True)
            return AttemptResult(None, elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:300])

    def _check_by(self, url: str, deadline: float) -> Target | None:
        """`check_url`, waited for until `deadline` only (see `ssrf.check_url_by`)."""
        return check_url_by(url, self.policy, deadline, check=check_url)

    def _judge(
        self, sub: Subscription, d: Delivery, result: AttemptResult
    ) -> tuple[dict[str, Any], str, float | None, float | None]:
        """What an attempt's result makes of the delivery: (the attempt as logged, the delivery's
        status, its next attempt's time, the delay before it). A 410 disables the subscription."""
        now = self.clock()
        attempt = {
            "at": round(now, 3),
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
            "error": result.error,
        }
        code = result.status_code
        if code is not None and 200 <= code < 300:
            return attempt, "succeeded", None, None
        if code == 410:
            # Retried in place: failing here would have the receiver POSTed again (the event's or
            # the message's retry), only to answer 410 again.
            retry_transient(
                lambda: self.store.disable(sub, "The endpoint answered 410 Gone; delivery stopped.", now),
                tries=4,
            )
            return attempt, "failed", None, None
        delay = retry_delay(d.attempt_count + 1 - d.schedule_base, result.retry_after_s, self.time_scale)
        if delay is None:
            _count_exhausted()
            return attempt, "exhausted", None, None
        return attempt, "pending", now + delay, delay

    def _conclude(self, sub: Subscription, d: Delivery, result: AttemptResult) -> None:
        attempt, status, next_at, delay = self._judge(sub, d, result)
        if delay is not None:
            # queued before recording: a crash in between repeats this attempt, never drops it
            self.enqueue(d, delay, attempt_count=d.attempt_count + 1)
        self.store.record_attempt(d, attempt, status, next_at)
        self._log_attempt(d, attempt, status, d.attempt_count + 1)

    @staticmethod
    def _log_attempt(d: Delivery, attempt: dict[str, Any], status: str, number: int) -> None:
        logger.info(
            "webhook attempt",
            extra={
                "delivery_id": d.delivery_id,
                "sub_id": d.sub_id,
                "status_code": attempt["status_code"],
                "outcome": status,
                "attempt": number,
                "error": attempt["error"],
            },
        )


def _count_exhausted() -> None:
    """One `WebhookDeliveriesExhausted` (template.yaml alarms on it), printed at once: the delivery
    function flushes no metrics of its own. Counted when the last attempt is judged, before it is
    recorded: a crash in between repeats the attempt and may count the delivery twice."""
    with single_metric(
        name="WebhookDeliveriesExhausted",
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ):
        pass


def deliverer_from_env() -> Deliverer:
    from asyncjobs.aws import clients
    from asyncjobs.settings import get_settings

    settings = get_settings()
    return Deliverer(
        WebhookStore(clients.client("dynamodb"), settings.webhooks_table),
        clients.client("sqs"),
        settings.webhook_queue_url,
        Policy(settings.webhook_require_https, settings.webhook_allowed_networks),
        time_scale=settings.webhook_time_scale,
    )
