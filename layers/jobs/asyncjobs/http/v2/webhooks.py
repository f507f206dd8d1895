"""The Webhooks API's routes and their request and response schemas: each route parses, calls one
use case of asyncjobs.webhooks.subscriptions and shapes its answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.params import Body, Path, Query
from asyncjobs.http.router import Response
from asyncjobs.http.routes import TENANT_ID_PATTERN
from asyncjobs.jobs.models import iso
from asyncjobs.webhooks import subscriptions
from asyncjobs.webhooks.delivery import Deliverer, deliverer_from_env
from asyncjobs.webhooks.models import EVENT_TYPES, MAX_ROTATION_OVERLAP_S

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
    return deliverer_from_env()  # cheap: the AWS clients underneath are cached


@app.post(
    "/v2/tenants/<tenant_id>/webhooks",
    summary="Create a webhook subscription",
    tags=["webhooks"],
    responses={201: {"description": "Created. `secret` is shown this once."}},
)
def create(tenant_id: Tenant, body: Annotated[SubscriptionIn, Body(embed=False)]) -> Response:
    created = subscriptions.create(_deliverer(), tenant_id, **body.model_dump())
    return json_response(201, {**created.subscription.to_public(), "secret": created.secret})


@app.get("/v2/tenants/<tenant_id>/webhooks", summary="List webhook subscriptions", tags=["webhooks"])
def list_subscriptions(tenant_id: Tenant) -> Response:
    subs = subscriptions.list_subscriptions(_deliverer(), tenant_id)
    return json_response(200, {"webhooks": [s.to_public() for s in subs]})


@app.get("/v2/tenants/<tenant_id>/webhooks/<sub_id>", summary="Get a webhook subscription", tags=["webhooks"])
def get(tenant_id: Tenant, sub_id: SubId) -> Response:
    return json_response(200, subscriptions.get(_deliverer(), tenant_id, sub_id).to_public())


@app.patch(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>", summary="Update a webhook subscription", tags=["webhooks"]
)
def update(
    tenant_id: Tenant, sub_id: SubId, body: Annotated[SubscriptionPatch, Body(embed=False)]
) -> Response:
    sub = subscriptions.update(_deliverer(), tenant_id, sub_id, **body.model_dump())
    return json_response(200, sub.to_public())


@app.delete(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>",
    summary="Delete a webhook subscription",
    tags=["webhooks"],
    responses={204: {"description": "Deleted; pending deliveries are skipped."}},
)
def delete(tenant_id: Tenant, sub_id: SubId) -> Response:
    subscriptions.delete(_deliverer(), tenant_id, sub_id)
    return Response(status_code=204, body="")


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/rotate-secret",
    summary="Rotate the signing secret",
    tags=["webhooks"],
)
def rotate(tenant_id: Tenant, sub_id: SubId, body: Annotated[RotateIn, Body(embed=False)]) -> Response:
    done = subscriptions.rotate_secret(_deliverer(), tenant_id, sub_id, body.overlap_seconds)
    return json_response(
        200,
        {
            **done.subscription.to_public(),
            "secret": done.secret,
            "previous_secrets_expire_at": iso(done.previous_secrets_expire_at),
        },
    )


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/ping",
    summary="Send a test ping",
    tags=["webhooks"],
    responses={202: {"description": "The ping is queued; follow it in the delivery log."}},
)
def ping(tenant_id: Tenant, sub_id: SubId) -> Response:
    return json_response(202, subscriptions.ping(_deliverer(), tenant_id, sub_id).to_public())


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
) -> Response:
    """A page may hold fewer than `limit` deliveries (even none) and still have a `next_cursor`:
    each request reads a bounded part of the log."""
    page = subscriptions.delivery_log(_deliverer(), tenant_id, sub_id, status, limit, cursor)
    return json_response(
        200, {"deliveries": [i.to_public() for i in page.deliveries], "next_cursor": page.next_cursor}
    )


@app.get(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/deliveries/<delivery_id>",
    summary="One delivery",
    tags=["webhooks"],
)
def delivery(tenant_id: Tenant, sub_id: SubId, delivery_id: DeliveryId) -> Response:
    found = subscriptions.delivery(_deliverer(), tenant_id, sub_id, delivery_id)
    return json_response(200, found.to_public(with_payload=True))


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/deliveries/<delivery_id>/redeliver",
    summary="Deliver again",
    tags=["webhooks"],
    responses={202: {"description": "Queued again from the start of the retry schedule."}},
)
def redeliver(tenant_id: Tenant, sub_id: SubId, delivery_id: DeliveryId) -> Response:
    return json_response(
        202, subscriptions.redeliver(_deliverer(), tenant_id, sub_id, delivery_id).to_public()
    )


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/recover",
    summary="Redeliver every failed delivery since",
    tags=["webhooks"],
)
def recover(tenant_id: Tenant, sub_id: SubId, body: Annotated[RecoverIn, Body(embed=False)]) -> Response:
    done = subscriptions.recover(_deliverer(), tenant_id, sub_id, body.since, body.cursor)
    return json_response(202, {"requeued": done.requeued, "next_cursor": done.next_cursor})
