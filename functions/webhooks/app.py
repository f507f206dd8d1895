"""WebhooksFunction: the Webhooks API, per tenant: subscriptions, secret rotation, test pings,
the delivery log, redelivery and recovery."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator

from asyncjobs.actions.registry import ACTIONS
from asyncjobs.errors import Conflict, InvalidRequest, NotFound
from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.gate import gate
from asyncjobs.http.routes import TENANT_ID_PATTERN
from asyncjobs.observability import logger
from asyncjobs.webhooks.delivery import Deliverer, deliverer_from_env
from asyncjobs.webhooks.models import (
    EVENT_TYPES,
    MAX_RECOVER,
    MAX_ROTATION_OVERLAP_S,
    MAX_SUBSCRIPTIONS,
    Secret,
    Subscription,
    new_secret,
    new_subscription_id,
    ping_delivery_id,
    rotated,
)
from asyncjobs.webhooks.ssrf import UnsafeTarget, check_url

app = new_app()
Tenant = Annotated[str, Path(pattern=TENANT_ID_PATTERN)]
SubId = Annotated[str, Path(pattern=r"^sub_[0-9a-f]{32}$")]
_DELIVERY_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"  # `<job_id>.<status>` or `<uuid>.ping`
DeliveryId = Annotated[str, Path(pattern=_DELIVERY_ID, max_length=100)]
Cursor = Annotated[str | None, Query(pattern=_DELIVERY_ID, max_length=100)]
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# RFC 9110 field-value, ASCII only: visible characters, with spaces and tabs inside (no CR/LF,
# no other control character, nothing non-ASCII: http.client could not send it).
_HEADER_VALUE = re.compile(r"^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$")
_RESERVED = {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoAuth(_Model):
    type: Literal["none"] = "none"


def _encodable(value: str, what: str) -> str:
    """Basic auth is sent as UTF-8 (RFC 7617): no control characters, no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"the {what} is not valid Unicode text") from exc
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"the {what} has a control character")
    return value


class BasicAuth(_Model):
    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=500)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("the username cannot contain ':' (basic auth separates it from the password)")
        return _encodable(value, "username")

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return _encodable(value, "password")


class HeaderAuth(_Model):
    type: Literal["headers"]
    headers: dict[str, str] = Field(min_length=1, max_length=10, description="Secret headers sent as is.")

    @field_validator("headers")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            low = name.lower()
            if not _HEADER_NAME.match(name) or low in _RESERVED or low.startswith("webhook-"):
                raise ValueError(f"header {name!r} cannot be set (invalid or reserved name)")
            if len(header) > 1000 or not _HEADER_VALUE.match(header):
                raise ValueError(
                    f"header {name!r} has an invalid value: use printable ASCII (spaces and tabs"
                    " only inside), at most 1000 characters"
                )
        return value


Auth = Annotated[NoAuth | BasicAuth | HeaderAuth, Field(discriminator="type")]
EventType = Literal["job.succeeded", "job.failed", "job.cancelled"]


class SubscriptionIn(_Model):
    url: str = Field(max_length=2000, description="Where events are POSTed (https).")
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    actions: list[str] = Field([], max_length=50, description="Only these actions (default: all).")
    auth: Auth = Field(default_factory=NoAuth)
    description: str = Field("", max_length=500)


class SubscriptionPatch(_Model):
    url: str | None = Field(None, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1, max_length=len(EVENT_TYPES))
    actions: list[str] | None = Field(None, max_length=50)
    auth: Auth | None = None
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None


class RotateIn(_Model):
    overlap_seconds: int = Field(
        86400, ge=0, le=MAX_ROTATION_OVERLAP_S, description="How long the previous secret keeps signing too."
    )


class RecoverIn(_Model):
    since: datetime = Field(
        description="Requeue every failed or exhausted delivery created since then (UTC if no offset is "
        "given), and pending ones over an hour overdue (their message was lost)."
    )
    cursor: str | None = Field(
        None, pattern=_DELIVERY_ID, max_length=100, description="`next_cursor` of the previous call."
    )

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        try:
            value.timestamp()
        except (OverflowError, ValueError, OSError) as exc:
            raise ValueError("is out of range") from exc
        return value


def _deliverer() -> Deliverer:
    return deliverer_from_env()


def _enabled(d: Deliverer, tenant_id: str, sub_id: str) -> Subscription:
    sub = d.store.get_subscription(tenant_id, sub_id)
    if not sub.enabled:
        raise InvalidRequest("the subscription is disabled; enable it first (PATCH enabled=true)")
    return sub


def _check(url: str | None, actions: list[str] | None, deliverer: Deliverer) -> None:
    if url is not None:
        try:
            check_url(url, deliverer.policy)
        except UnsafeTarget as exc:
            raise InvalidRequest(f"body `url` is refused: {exc}") from exc
    unknown = sorted(set(actions or ()) - set(ACTIONS))
    if unknown:
        raise InvalidRequest(f"body `actions` has unknown actions {unknown}; known: {sorted(ACTIONS)}")


@app.post(
    "/v2/tenants/<tenant_id>/webhooks",
    summary="Create a webhook subscription",
    tags=["webhooks"],
    responses={201: {"description": "Created. `secret` is shown this once."}},
)
def create(tenant_id: Tenant, body: Annotated[SubscriptionIn, Body(embed=False)]) -> Response[str]:
    d = _deliverer()
    _check(body.url, body.actions, d)
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
        url=body.url,
        events=tuple(dict.fromkeys(body.events)),
        actions=tuple(dict.fromkeys(body.actions)),
        auth=body.auth.model_dump(),
        secrets=(Secret(secret, now),),
        description=body.description,
        created_at=now,
        updated_at=now,
    )
    d.store.put_subscription(sub, new=True)
    logger.info("webhook subscription created", extra={"sub_id": sub.sub_id})
    return json_response(201, {**sub.to_public(), "secret": secret})


@app.get("/v2/tenants/<tenant_id>/webhooks", summary="List webhook subscriptions", tags=["webhooks"])
def list_subscriptions(tenant_id: Tenant) -> Response[str]:
    subs = _deliverer().store.subscriptions(tenant_id)
    return json_response(200, {"webhooks": [s.to_public() for s in sorted(subs, key=lambda s: s.created_at)]})


@app.get("/v2/tenants/<tenant_id>/webhooks/<sub_id>", summary="Get a webhook subscription", tags=["webhooks"])
def get(tenant_id: Tenant, sub_id: SubId) -> Response[str]:
    return json_response(200, _deliverer().store.get_subscription(tenant_id, sub_id).to_public())


@app.patch(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>", summary="Update a webhook subscription", tags=["webhooks"]
)
def update(
    tenant_id: Tenant, sub_id: SubId, body: Annotated[SubscriptionPatch, Body(embed=False)]
) -> Response[str]:
    d = _deliverer()
    _check(body.url, body.actions, d)
    changes: dict[str, Any] = {}
    if body.url is not None:
        changes["url"] = body.url
    if body.events is not None:
        changes["events"] = tuple(dict.fromkeys(body.events))
    if body.actions is not None:
        changes["actions"] = tuple(dict.fromkeys(body.actions))
    if body.auth is not None:
        changes["auth"] = body.auth.model_dump()
    if body.description is not None:
        changes["description"] = body.description
    if body.enabled is not None:
        changes["enabled"] = body.enabled
        changes["disabled_reason"] = None if body.enabled else "Disabled by the tenant."
    sub = d.store.change_subscription(
        tenant_id, sub_id, lambda sub: replace(sub, **changes, updated_at=time.time())
    )
    return json_response(200, sub.to_public())


@app.delete(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>",
    summary="Delete a webhook subscription",
    tags=["webhooks"],
    responses={204: {"description": "Deleted; pending deliveries are skipped."}},
)
def delete(tenant_id: Tenant, sub_id: SubId) -> Response[str]:
    _deliverer().store.delete_subscription(tenant_id, sub_id)
    return Response(status_code=204, body="")


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/rotate-secret",
    summary="Rotate the signing secret",
    tags=["webhooks"],
)
def rotate(tenant_id: Tenant, sub_id: SubId, body: Annotated[RotateIn, Body(embed=False)]) -> Response[str]:
    d = _deliverer()
    secret = new_secret()
    now = time.time()
    until = now + body.overlap_seconds
    sub = d.store.change_subscription(tenant_id, sub_id, lambda sub: rotated(sub, secret, now, until))
    return json_response(200, {**sub.to_public(), "secret": secret, "previous_secrets_expire_at": until})


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/ping",
    summary="Send a test ping",
    tags=["webhooks"],
    responses={202: {"description": "The ping is queued; follow it in the delivery log."}},
)
def ping(tenant_id: Tenant, sub_id: SubId) -> Response[str]:
    d = _deliverer()
    sub = _enabled(d, tenant_id, sub_id)
    delivery_id = ping_delivery_id()
    payload = json.dumps(
        {
            "type": "ping",
            "timestamp": datetime.now().astimezone().isoformat(),
            "data": {"subscription_id": sub.sub_id, "tenant_id": tenant_id},
        },
        separators=(",", ":"),
    )
    delivery = d.open_delivery(sub, delivery_id, "ping", payload)
    return json_response(202, delivery.to_public())


@app.get(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/deliveries",
    summary="A subscription's delivery log",
    tags=["webhooks"],
)
def deliveries(
    tenant_id: Tenant,
    sub_id: SubId,
    status: Annotated[
        Literal["pending", "succeeded", "failed", "exhausted", "skipped"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Cursor = None,
) -> Response[str]:
    """A page may hold fewer than `limit` deliveries (even none) and still have a `next_cursor`:
    each request reads a bounded part of the log."""
    d = _deliverer()
    d.store.get_subscription(tenant_id, sub_id)  # 404 for another tenant's subscription
    items, next_cursor = d.store.deliveries(
        sub_id, now=time.time(), statuses=(status,) if status else (), limit=limit, cursor=cursor
    )
    return json_response(200, {"deliveries": [i.to_public() for i in items], "next_cursor": next_cursor})


@app.get(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/deliveries/<delivery_id>",
    summary="One delivery",
    tags=["webhooks"],
)
def delivery(tenant_id: Tenant, sub_id: SubId, delivery_id: DeliveryId) -> Response[str]:
    d = _deliverer()
    d.store.get_subscription(tenant_id, sub_id)
    found = d.store.get_delivery(sub_id, delivery_id, now=time.time())
    if found is None:
        raise NotFound(f"No delivery {delivery_id} for this subscription.")
    return json_response(200, found.to_public(with_payload=True))


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/deliveries/<delivery_id>/redeliver",
    summary="Deliver again",
    tags=["webhooks"],
    responses={202: {"description": "Queued again from the start of the retry schedule."}},
)
def redeliver(tenant_id: Tenant, sub_id: SubId, delivery_id: DeliveryId) -> Response[str]:
    d = _deliverer()
    _enabled(d, tenant_id, sub_id)
    found = d.store.get_delivery(sub_id, delivery_id, now=time.time())
    if found is None:
        raise NotFound(f"No delivery {delivery_id} for this subscription.")
    restarted = d.restart(found)
    if restarted is None:
        raise Conflict("An attempt of this delivery is being made right now; retry in a minute.")
    return json_response(202, restarted.to_public())


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/recover",
    summary="Redeliver every failed delivery since",
    tags=["webhooks"],
)
def recover(tenant_id: Tenant, sub_id: SubId, body: Annotated[RecoverIn, Body(embed=False)]) -> Response[str]:
    d = _deliverer()
    _enabled(d, tenant_id, sub_id)
    items, next_cursor = d.store.deliveries(
        sub_id,
        now=time.time(),
        statuses=("exhausted", "failed", "pending"),
        since=body.since.timestamp(),
        limit=MAX_RECOVER,
        cursor=body.cursor,
    )
    # Failed and exhausted deliveries, and pending ones whose message was lost (long overdue).
    requeued = [i for i in items if (i.status != "pending" or d.stale(i)) and d.restart(i) is not None]
    # Bounded per call: with a `next_cursor`, call again with it for the rest.
    return json_response(202, {"requeued": len(requeued), "next_cursor": next_cursor})


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return gate(event) or app.resolve(event, context)
