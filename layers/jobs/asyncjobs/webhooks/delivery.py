"""Webhook delivery: fan-out of a job event to its subscriptions, and one signed attempt at a time.

Retries are cloud-managed by SQS: each attempt is one message on `WebhookQueue`, and a failed
attempt schedules the next as a new message delayed by the Standard Webhooks schedule (0, 5 s,
5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 8 attempts over ~27.6 h). SQS delays a message 15 minutes at
most, so a longer wait is a chain of 15-minute hops (a ~24 h wait costs ~100 messages and
invocations of a few ms, paid only by failing endpoints). Chosen over EventBridge Scheduler: no
other service, no per-schedule clean-up, the same code path runs locally on moto, and SQS's
own redelivery covers crashes.

Never a drop: the message of an attempt is deleted only after the next attempt is queued and the
result recorded; a crash anywhere before that brings the same message back after the visibility
timeout. Duplicate messages (a crash after queueing, or SQS's at-least-once) cannot double an
attempt: each attempt is claimed with a conditional write first, and losers let go.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from asyncjobs.aws.clients import AWS_ERRORS
from asyncjobs.aws.dynamo import ConditionFailed
from asyncjobs.errors import InfrastructureError, NotFound, retry_transient
from asyncjobs.observability import logger
from asyncjobs.webhooks.http_client import TIMEOUT_S, AttemptResult, elapsed_ms, http_post
from asyncjobs.webhooks.models import STATUS_EVENT, Delivery, Subscription
from asyncjobs.webhooks.signing import request_headers
from asyncjobs.webhooks.ssrf import Policy, Target, UnsafeTarget, check_url
from asyncjobs.webhooks.store import WebhookStore

# Standard Webhooks / Svix schedule: 8 attempts over ~27.6 hours (delay before each attempt).
RETRY_SCHEDULE_S = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
RECORD_MARGIN_S = 5.0  # kept for recording the result (a quarter of what is left, when less)
MIN_ATTEMPT_S = 0.5  # with less time left, the message comes back to a fresh invocation
CLAIM_S = 60.0  # the longest claim: one attempt never takes longer (the function's timeout is 30 s)
MAX_SQS_DELAY_S = 900
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
        """Stores a delivery and queues its first attempt. An existing delivery (the same event
        announced again) is queued again only if it never got an attempt: its first message may
        have been lost with a crashed fan-out; a duplicate is harmless (attempts are claimed)."""
        now = self.clock()
        d = Delivery(
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
        if not self.store.create_delivery(d):
            existing = self.store.get_delivery(sub.sub_id, delivery_id)
            if existing is None or existing.terminal or existing.attempt_count > 0:
                return existing or d
            d = existing
        self.enqueue(d)
        return d

    def fan_out(self, event: dict[str, Any]) -> int:
        """One delivery per subscription of the job's tenant that wants this event."""
        detail = event["detail"]
        event_type, payload = event_payload(event)
        count = 0
        expires_at = _epoch(detail.get("expires_at"))  # the delivery log keeps it as long as the job
        for sub in self.store.subscriptions(detail["tenant_id"]):
            if sub.wants(event_type, detail.get("action")):
                # In place: Lambda gives the fan-out only three asynchronous tries before its event
                # goes to the dead-letter queue.
                retry_transient(
                    lambda sub=sub: self.open_delivery(
                        sub, detail["event_id"], event_type, payload, detail["job_id"], expires_at
                    ),
                    tries=4,
                )
                count += 1
        logger.info("job event fanned out", extra={"job_id": detail["job_id"], "deliveries": count})
        return count

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
        """The attempt itself. Whatever goes wrong (a URL or header the request cannot carry, a
        signing error, the network, the receiver) is a failed attempt, recorded and retried."""
        started = time.monotonic()
        try:
            target = check_url(sub.url, self.policy)  # again now: DNS may have changed since
        except UnsafeTarget as exc:
            return AttemptResult(None, 0.0, f"refused: {exc}")
        except Exception as exc:  # recorded, never a crash
            return AttemptResult(None, elapsed_ms(started), f"refused: {type(exc).__name__}: {exc}"[:300])
        try:
            headers = request_headers(sub, d, self.clock())
            timeout = max(0.1, attempt_budget(ends_at - time.monotonic()))
            return self._send(target, d.payload.encode(), headers, timeout)
        except Exception as exc:  # recorded, never a crash
            logger.warning("webhook attempt failed before an answer", exc_info=True)
            return AttemptResult(None, elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:300])

    def _conclude(self, sub: Subscription, d: Delivery, result: AttemptResult) -> None:
        now = self.clock()
        attempt = {
            "at": round(now, 3),
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
            "error": result.error,
        }
        code = result.status_code
        next_at: float | None = None
        if code is not None and 200 <= code < 300:
            status = "succeeded"
        elif code == 410:
            status = "failed"
            self.store.disable(sub, "The endpoint answered 410 Gone; delivery stopped.", now)
        else:
            delay = retry_delay(d.attempt_count + 1 - d.schedule_base, result.retry_after_s, self.time_scale)
            if delay is None:
                status = "exhausted"
            else:
                status = "pending"
                next_at = now + delay
                # queued before recording: a crash in between repeats this attempt, never drops it
                self.enqueue(d, delay, attempt_count=d.attempt_count + 1)
        self.store.record_attempt(d, attempt, status, next_at)
        logger.info(
            "webhook attempt",
            extra={
                "status_code": code,
                "outcome": status,
                "attempt": d.attempt_count + 1,
                "error": result.error,
            },
        )


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
