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

import base64
import contextlib
import http.client
import json
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncjobs.aws.clients import AWS_ERRORS
from asyncjobs.aws.dynamo import ConditionFailed
from asyncjobs.errors import InfrastructureError, NotFound, retry_transient
from asyncjobs.observability import logger
from asyncjobs.ssrf import Policy, Target, UnsafeTarget, check_url
from asyncjobs.webhooks import (
    RETRY_SCHEDULE_S,
    STATUS_EVENT,
    Delivery,
    Subscription,
    WebhookStore,
)

TIMEOUT_S = 15.0  # one attempt in all: connect, send, status, headers and body
RECORD_MARGIN_S = 5.0  # kept for recording the result (a quarter of what is left, when less)
MIN_ATTEMPT_S = 0.5  # with less time left, the message comes back to a fresh invocation
CLAIM_S = 60.0  # the longest claim: one attempt never takes longer (the function's timeout is 30 s)
MAX_SQS_DELAY_S = 900
STALE_PENDING_S = 3600  # a pending delivery this overdue lost its message (see Deliverer.stale)
MAX_RETRY_AFTER_S = 86400
USER_AGENT = "asyncjobs-webhooks/1"


class RetryLater(Exception):
    """The message must come back later."""


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after_s: float | None = None


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: str) -> str:
    """Standard Webhooks `webhook-signature`: one `v1,<sig>` per active secret, space-separated
    (two during a rotation's overlap, so receivers with either secret verify)."""
    from standardwebhooks.webhooks import Webhook

    when = datetime.fromtimestamp(timestamp, UTC)
    return " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets)


def request_headers(sub: Subscription, d: Delivery, now: float) -> dict[str, str]:
    timestamp = int(now)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": d.delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(sub.signing_secrets(now), d.delivery_id, timestamp, d.payload),
    }
    auth = sub.auth
    if auth.get("type") == "basic":
        pair = f"{auth['username']}:{auth['password']}".encode()
        headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif auth.get("type") == "headers":
        headers.update({k.lower(): v for k, v in auth.get("headers", {}).items()})
    return headers


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to an address checked beforehand, with SNI and certificate checks for the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        # The raw socket is visible before the handshake, so a deadline can cut a slow one short.
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def attempt_budget(remaining_s: float) -> float:
    """Seconds one attempt may take when the invocation has `remaining_s` left: TIMEOUT_S at
    most, and always leaving time to record the result and queue the retry."""
    return min(TIMEOUT_S, remaining_s - min(RECORD_MARGIN_S, remaining_s / 4))


def http_post(
    target: Target, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S
) -> AttemptResult:
    """One POST, never following redirects (a 3xx is a failed attempt), within `timeout` seconds
    in all: connecting, sending, and reading the status line, headers and body (64 KB at most).
    A socket timeout alone bounds each read, not their sum: a receiver trickling a byte at a time
    would hold the attempt forever, so a watchdog shuts the socket down at the deadline. Any
    failure is an AttemptResult with an error, never an exception."""
    started = time.monotonic()
    conn_type = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = conn_type(target, timeout)
    expired = threading.Event()

    def cut_off() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", target.path, body=body, headers={**headers, "host": _host_header(target)})
        resp = conn.getresponse()
        resp.read(64 * 1024)
        if expired.is_set():
            raise TimeoutError("cut off at the deadline")
        retry_after = _retry_after(resp.getheader("retry-after")) if resp.status in (429, 503) else None
        return AttemptResult(resp.status, _ms(started), None, retry_after)
    except Exception as exc:  # every failure of an attempt is recorded as one
        if expired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
            return AttemptResult(None, _ms(started), f"timeout: no complete answer within {timeout:.1f} s")
        return AttemptResult(None, _ms(started), f"{type(exc).__name__}: {exc}"[:300])
    finally:
        watchdog.cancel()
        conn.close()


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


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
        (RetryLater, InfrastructureError) when it must come back."""
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
            raise RetryLater("too little time left in this invocation for an attempt")
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
                raise RetryLater("the attempt is claimed by another worker") from exc
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
            return AttemptResult(None, _ms(started), f"refused: {type(exc).__name__}: {exc}"[:300])
        try:
            headers = request_headers(sub, d, self.clock())
            timeout = max(0.1, attempt_budget(ends_at - time.monotonic()))
            return self._send(target, d.payload.encode(), headers, timeout)
        except Exception as exc:  # recorded, never a crash
            logger.warning("webhook attempt failed before an answer", exc_info=True)
            return AttemptResult(None, _ms(started), f"{type(exc).__name__}: {exc}"[:300])

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
    import os

    from asyncjobs.aws import clients
    from asyncjobs.settings import required_env

    return Deliverer(
        WebhookStore(clients.client("dynamodb"), required_env("WEBHOOKS_TABLE")),
        clients.client("sqs"),
        required_env("WEBHOOK_QUEUE_URL"),
        Policy.from_settings(
            os.environ.get("WEBHOOK_REQUIRE_HTTPS", "true"), os.environ.get("WEBHOOK_ALLOWED_NETWORKS", "")
        ),
        time_scale=float(os.environ.get("WEBHOOK_TIME_SCALE") or 1.0),
    )
