"""The Webhooks API's use cases, per tenant: subscriptions, secret rotation, test pings, the
delivery log, redelivery and recovery. Each raises domain errors (NotFound, Conflict,
InvalidRequest); the HTTP side maps them."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from asyncjobs.actions.registry import ACTIONS
from asyncjobs.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from asyncjobs.jobs.models import MULTI_ACTION, iso
from asyncjobs.observability import logger
from asyncjobs.webhooks.delivery import Deliverer
from asyncjobs.webhooks.models import (
    MAX_RECOVER,
    MAX_SUBSCRIPTIONS,
    Delivery,
    Secret,
    Subscription,
    new_secret,
    new_subscription_id,
    ping_delivery_id,
    rotated,
)
from asyncjobs.webhooks.ssrf import UnsafeTarget, check_url_by

# How long saving a subscription waits for its host to resolve (the SSRF check): an API request has
# 29 s at most behind API Gateway, and a resolver that hangs must not hold it that long.
URL_CHECK_S = 5.0


class Created(NamedTuple):
    subscription: Subscription
    secret: str  # shown this once


class Rotated(NamedTuple):
    subscription: Subscription
    secret: str  # shown this once
    previous_secrets_expire_at: float


class Page(NamedTuple):
    deliveries: list[Delivery]
    next_cursor: str | None


class Recovered(NamedTuple):
    requeued: int
    next_cursor: str | None


def _check(d: Deliverer, url: str | None, actions: list[str] | None) -> None:
    if url is not None:
        try:
            checked = check_url_by(url, d.policy, time.monotonic() + URL_CHECK_S)
        except UnsafeTarget as exc:
            raise InvalidRequest(f"body `url` is refused: {exc}") from exc
        if checked is None:
            raise ServiceUnavailable(
                f"The DNS lookup of the `url`'s host did not answer within {URL_CHECK_S:g} s; "
                "retry after `Retry-After` seconds."
            )
    known = {*ACTIONS, MULTI_ACTION}  # a multi-action job's one event names `multi_action`
    unknown = sorted(set(actions or ()) - known)
    if unknown:
        raise InvalidRequest(f"body `actions` has unknown actions {unknown}; known: {sorted(known)}")


def _enabled(d: Deliverer, tenant_id: str, sub_id: str) -> Subscription:
    sub = d.store.get_subscription(tenant_id, sub_id)
    if not sub.enabled:
        raise InvalidRequest("the subscription is disabled; enable it first (PATCH enabled=true)")
    return sub


def _delivery(d: Deliverer, sub_id: str, delivery_id: str) -> Delivery:
    found = d.store.get_delivery(sub_id, delivery_id, now=time.time())
    if found is None:
        raise NotFound(f"No delivery {delivery_id} for this subscription.")
    return found


def create(
    d: Deliverer,
    tenant_id: str,
    *,
    url: str,
    events: list[str],
    actions: list[str],
    auth: dict[str, Any],
    description: str,
) -> Created:
    _check(d, url, actions)
    if len(d.store.subscriptions(tenant_id)) >= MAX_SUBSCRIPTIONS:
        raise Conflict(
            f"This tenant has {MAX_SUBSCRIPTIONS} webhook subscriptions, the most allowed (each job"
            " event is delivered to all of them at once): delete one first."
        )
    now = time.time()
    secret = new_secret()
    sub = Subscription(
        tenant_id=tenant_id,
        sub_id=new_subscription_id(),
        url=url,
        events=tuple(dict.fromkeys(events)),
        actions=tuple(dict.fromkeys(actions)),
        auth=auth,
        secrets=(Secret(secret, now),),
        description=description,
        created_at=now,
        updated_at=now,
    )
    d.store.put_subscription(sub, new=True)
    logger.info("webhook subscription created", extra={"sub_id": sub.sub_id})
    return Created(sub, secret)


def list_subscriptions(d: Deliverer, tenant_id: str) -> list[Subscription]:
    return sorted(d.store.subscriptions(tenant_id), key=lambda s: s.created_at)


def get(d: Deliverer, tenant_id: str, sub_id: str) -> Subscription:
    return d.store.get_subscription(tenant_id, sub_id)


def update(
    d: Deliverer,
    tenant_id: str,
    sub_id: str,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    actions: list[str] | None = None,
    auth: dict[str, Any] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> Subscription:
    """Changes what is given (None: unchanged), re-applied on top of any change that races it."""
    _check(d, url, actions)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = url
    if events is not None:
        changes["events"] = tuple(dict.fromkeys(events))
    if actions is not None:
        changes["actions"] = tuple(dict.fromkeys(actions))
    if auth is not None:
        changes["auth"] = auth
    if description is not None:
        changes["description"] = description
    if enabled is not None:
        changes["enabled"] = enabled
        changes["disabled_reason"] = None if enabled else "Disabled by the tenant."
    return d.store.change_subscription(
        tenant_id, sub_id, lambda sub: replace(sub, **changes, updated_at=time.time())
    )


def delete(d: Deliverer, tenant_id: str, sub_id: str) -> None:
    d.store.delete_subscription(tenant_id, sub_id)


def rotate_secret(d: Deliverer, tenant_id: str, sub_id: str, overlap_seconds: int) -> Rotated:
    secret = new_secret()
    now = time.time()
    until = now + overlap_seconds
    sub = d.store.change_subscription(tenant_id, sub_id, lambda sub: rotated(sub, secret, now, until))
    return Rotated(sub, secret, until)


def ping(d: Deliverer, tenant_id: str, sub_id: str) -> Delivery:
    sub = _enabled(d, tenant_id, sub_id)
    payload = json.dumps(
        {
            "type": "ping",
            "timestamp": iso(time.time()),
            "data": {"subscription_id": sub.sub_id, "tenant_id": tenant_id},
        },
        separators=(",", ":"),
    )
    return d.open_delivery(sub, ping_delivery_id(), "ping", payload)


def delivery_log(
    d: Deliverer, tenant_id: str, sub_id: str, status: str | None, limit: int, cursor: str | None
) -> Page:
    """A page may hold fewer than `limit` deliveries (even none) and still have a `next_cursor`:
    each call reads a bounded part of the log."""
    d.store.get_subscription(tenant_id, sub_id)  # NotFound for another tenant's subscription
    items, next_cursor = d.store.deliveries(
        sub_id, now=time.time(), statuses=(status,) if status else (), limit=limit, cursor=cursor
    )
    return Page(items, next_cursor)


def delivery(d: Deliverer, tenant_id: str, sub_id: str, delivery_id: str) -> Delivery:
    d.store.get_subscription(tenant_id, sub_id)
    return _delivery(d, sub_id, delivery_id)


def redeliver(d: Deliverer, tenant_id: str, sub_id: str, delivery_id: str) -> Delivery:
    _enabled(d, tenant_id, sub_id)
    restarted = d.restart(_delivery(d, sub_id, delivery_id))
    if restarted is None:
        raise Conflict(
            "An attempt of this delivery is being made right now; retry in a minute.", retry_after=60
        )
    return restarted


def recover(d: Deliverer, tenant_id: str, sub_id: str, since: datetime, cursor: str | None) -> Recovered:
    """Requeues failed and exhausted deliveries created since `since`, and pending ones whose
    message was lost (long overdue). Bounded per call: with a `next_cursor`, call again with it."""
    _enabled(d, tenant_id, sub_id)
    items, next_cursor = d.store.deliveries(
        sub_id,
        now=time.time(),
        statuses=("exhausted", "failed", "pending"),
        since=since.timestamp(),
        limit=MAX_RECOVER,
        cursor=cursor,
    )
    requeued = [i for i in items if (i.status != "pending" or d.stale(i)) and d.restart(i) is not None]
    return Recovered(len(requeued), next_cursor)
