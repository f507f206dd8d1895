"""Webhook subscriptions and their deliveries: the records and the rules on them (DynamoDB layout:
see store.py).

A delivery's id is its Standard Webhooks `webhook-id`: the same for every attempt. For a job event
it is `<job_id>.<status>`, so an event announced twice (events are at least once) is delivered as
one delivery, not two.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from asyncjobs.errors import Conflict
from asyncjobs.jobs.ids import new_job_id
from asyncjobs.jobs.models import iso

EVENT_TYPES = ("job.succeeded", "job.failed", "job.cancelled")
STATUS_EVENT = {"succeeded": "job.succeeded", "failed": "job.failed", "cancelled": "job.cancelled"}
# A delivery holds the job's result: it is kept as long as the job (7 days), not longer.
DELIVERY_RETENTION_S = 7 * 86400
MAX_ROTATION_OVERLAP_S = 7 * 86400
MAX_ACTIVE_SECRETS = 3  # the newest and at most two rotated out, still signing during overlaps
MAX_SUBSCRIPTIONS = 25  # per tenant: one job event fans out to all of them in one invocation
MAX_RECOVER = 100  # deliveries one recover call requeues at most; then it answers with a cursor


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Secret:
    value: str
    created_at: float
    expires_at: float | None = None  # set when rotated out: still signs until then

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class Subscription:
    tenant_id: str
    sub_id: str
    url: str
    events: tuple[str, ...]
    actions: tuple[str, ...] = ()
    auth: dict[str, Any] = field(default_factory=lambda: {"type": "none"})
    secrets: tuple[Secret, ...] = ()
    enabled: bool = True
    disabled_reason: str | None = None
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 0  # incremented by every write: a write conditioned on it never loses another

    def wants(self, event_type: str, action: str | None) -> bool:
        if not self.enabled:
            return False
        if event_type == "ping":
            return True
        return event_type in self.events and (not self.actions or action in self.actions)

    def signing_secrets(self, now: float) -> list[str]:
        return [s.value for s in self.secrets if s.active(now)]

    def to_public(self) -> dict[str, Any]:
        """What the API shows: never a secret or a password, only what identifies them; times in
        ISO 8601 UTC, as the jobs show theirs (the records keep epoch seconds)."""
        auth: dict[str, Any] = {"type": self.auth.get("type", "none")}
        if auth["type"] == "basic":
            auth["username"] = self.auth.get("username")
        elif auth["type"] == "headers":
            auth["header_names"] = sorted(self.auth.get("headers", {}))
        return {
            "id": self.sub_id,
            "url": self.url,
            "events": list(self.events),
            "actions": list(self.actions),
            "auth": auth,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "description": self.description,
            "secrets": [
                {
                    "created_at": iso(s.created_at),
                    "expires_at": iso(s.expires_at),
                    "prefix": s.value[:10] + "…",
                }
                for s in self.secrets
            ],
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class Delivery:
    sub_id: str
    delivery_id: str
    tenant_id: str
    event_type: str
    payload: str
    status: str  # pending | succeeded | failed | exhausted | skipped
    created_at: float
    attempt_count: int = 0
    schedule_base: int = 0
    attempts: tuple[dict[str, Any], ...] = ()
    next_attempt_at: float | None = None
    claimed_until: float | None = None
    job_id: str | None = None
    expires_at: float | None = None
    """When the delivery is deleted: with its job (the job's expiry, from the event), else 7 days
    after it was created (pings)."""

    @property
    def terminal(self) -> bool:
        return self.status != "pending"

    def to_public(self, with_payload: bool = False) -> dict[str, Any]:
        last = self.attempts[-1] if self.attempts else {}
        doc: dict[str, Any] = {
            "id": self.delivery_id,
            "event_type": self.event_type,
            "job_id": self.job_id,
            "status": self.status,
            "attempts": self.attempt_count,
            "last_status_code": last.get("status_code"),
            "last_error": last.get("error"),
            "last_latency_ms": last.get("latency_ms"),
            "next_attempt_at": iso(self.next_attempt_at) if self.status == "pending" else None,
            "created_at": iso(self.created_at),
        }
        if with_payload:
            # Every attempt with the same fields, null where none applies (DynamoDB leaves a null
            # out of a stored map): as the list shows the last one.
            doc["attempt_log"] = [
                {
                    "at": iso(float(a["at"])) if "at" in a else None,
                    "status_code": a.get("status_code"),
                    "latency_ms": a.get("latency_ms"),
                    "error": a.get("error"),
                }
                for a in self.attempts
            ]
            doc["payload"] = json.loads(self.payload)
        return doc


def rotated(sub: Subscription, secret: str, now: float, until: float) -> Subscription:
    """`sub` signing with a new secret from `now`; the secrets still active keep signing until
    `until` at the latest (the overlap). Expired secrets are dropped. Each signature costs the
    receiver a check, so at most MAX_ACTIVE_SECRETS sign at once: Conflict beyond."""
    kept = tuple(
        replace(s, expires_at=min(s.expires_at or until, until))
        for s in sub.secrets
        if s.active(now) and until > now  # without an overlap, the old secrets go at once
    )
    if until > now and len(kept) + 1 > MAX_ACTIVE_SECRETS:
        soonest = min(s.expires_at or until for s in kept)
        raise Conflict(
            f"{len(kept)} secrets sign already and at most {MAX_ACTIVE_SECRETS} may: rotate with "
            f"overlap_seconds 0 (only the new secret signs), or after the oldest expires "
            f"(in {max(1, int(soonest - now))} s)."
        )
    return replace(sub, secrets=(*kept, Secret(secret, now)), updated_at=now)


def new_subscription_id() -> str:
    return "sub_" + new_job_id().replace("-", "")


def ping_delivery_id() -> str:
    return f"{new_job_id()}.ping"
