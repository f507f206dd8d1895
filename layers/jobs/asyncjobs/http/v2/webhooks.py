"""The Webhooks API's routes: each route parses, calls one use case of
asyncjobs.webhooks.subscriptions and shapes its answer. Request bodies: `webhook_bodies`."""

from __future__ import annotations

from typing import Annotated, Literal

from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.lazy import lazy_module
from asyncjobs.http.params import Body, Path, Query
from asyncjobs.http.router import Response
from asyncjobs.http.routes import TENANT_ID_PATTERN
from asyncjobs.jobs.models import iso
from asyncjobs.webhooks import subscriptions
from asyncjobs.webhooks.delivery import Deliverer, deliverer_from_env

bodies = lazy_module("asyncjobs.http.v2.webhook_bodies")  # loaded when a route reads a body
app = new_app()
Tenant = Annotated[str, Path(pattern=TENANT_ID_PATTERN)]
SubId = Annotated[str, Path(pattern=r"^sub_[0-9a-f]{32}$")]
# `<job_id>.<status>` or `<uuid>.ping`
DELIVERY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
DeliveryId = Annotated[str, Path(pattern=DELIVERY_ID_PATTERN, max_length=100)]
Cursor = Annotated[str | None, Query(pattern=DELIVERY_ID_PATTERN, max_length=100)]
NO_SUB = "No such webhook subscription for this tenant."
RACED = "Other changes to the subscription kept racing this one; retry."
DISABLED = "The subscription is disabled (enable it first), or the request is invalid."


def _deliverer() -> Deliverer:
    return deliverer_from_env()  # cheap: the AWS clients underneath are cached


@app.post(
    "/v2/tenants/<tenant_id>/webhooks",
    operation_id="create_webhook",
    summary="Create a webhook subscription",
    tags=["webhooks"],
    responses={
        201: {"description": "Created. `secret` is shown this once.", "model": "SubscriptionCreated"},
        409: {"description": "The tenant has 25 subscriptions already."},
        422: {"description": "An invalid field, an unsafe `url` (loopback, private) or an unknown action."},
    },
)
def create(tenant_id: Tenant, body: Annotated[bodies.SubscriptionIn, Body(embed=False)]) -> Response:
    created = subscriptions.create(_deliverer(), tenant_id, **body.model_dump())
    return json_response(201, {**created.subscription.to_public(), "secret": created.secret})


@app.get(
    "/v2/tenants/<tenant_id>/webhooks",
    operation_id="list_webhooks",
    summary="List webhook subscriptions",
    tags=["webhooks"],
    responses={200: {"description": "Every subscription of the tenant.", "model": "SubscriptionList"}},
)
def list_subscriptions(tenant_id: Tenant) -> Response:
    subs = subscriptions.list_subscriptions(_deliverer(), tenant_id)
    return json_response(200, {"webhooks": [s.to_public() for s in subs]})


@app.get(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>",
    operation_id="get_webhook",
    summary="Get a webhook subscription",
    tags=["webhooks"],
    responses={
        200: {"description": "The subscription.", "model": "Subscription"},
        404: {"description": NO_SUB},
    },
)
def get(tenant_id: Tenant, sub_id: SubId) -> Response:
    return json_response(200, subscriptions.get(_deliverer(), tenant_id, sub_id).to_public())


@app.patch(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>",
    operation_id="update_webhook",
    summary="Update a webhook subscription",
    tags=["webhooks"],
    responses={
        200: {"description": "The subscription as changed.", "model": "Subscription"},
        404: {"description": NO_SUB},
        409: {"description": RACED},
    },
)
def update(
    tenant_id: Tenant, sub_id: SubId, body: Annotated[bodies.SubscriptionPatch, Body(embed=False)]
) -> Response:
    sub = subscriptions.update(_deliverer(), tenant_id, sub_id, **body.model_dump())
    return json_response(200, sub.to_public())


@app.delete(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>",
    operation_id="delete_webhook",
    summary="Delete a webhook subscription",
    tags=["webhooks"],
    responses={
        204: {"description": "Deleted; pending deliveries are skipped."},
        404: {"description": NO_SUB},
    },
)
def delete(tenant_id: Tenant, sub_id: SubId) -> Response:
    subscriptions.delete(_deliverer(), tenant_id, sub_id)
    return Response(status_code=204, body="")


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/rotate-secret",
    operation_id="rotate_webhook_secret",
    summary="Rotate the signing secret",
    tags=["webhooks"],
    responses={
        200: {"description": "The new secret, shown this once.", "model": "SecretRotated"},
        404: {"description": NO_SUB},
        409: {
            "description": "3 secrets would sign at once (rotate with `overlap_seconds: 0`), or other "
            "changes kept racing this one."
        },
    },
)
def rotate(tenant_id: Tenant, sub_id: SubId, body: Annotated[bodies.RotateIn, Body(embed=False)]) -> Response:
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
    operation_id="ping_webhook",
    summary="Send a test ping",
    tags=["webhooks"],
    responses={
        202: {"description": "The ping is queued; follow it in the delivery log.", "model": "Delivery"},
        404: {"description": NO_SUB},
        422: {"description": DISABLED},
    },
)
def ping(tenant_id: Tenant, sub_id: SubId) -> Response:
    return json_response(202, subscriptions.ping(_deliverer(), tenant_id, sub_id).to_public())


@app.get(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/deliveries",
    operation_id="list_deliveries",
    summary="A subscription's delivery log",
    tags=["webhooks"],
    responses={
        200: {"description": "A page of the log.", "model": "DeliveryList"},
        404: {"description": NO_SUB},
    },
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
    operation_id="get_delivery",
    summary="One delivery",
    tags=["webhooks"],
    responses={
        200: {"description": "The delivery, its attempts and payload.", "model": "DeliveryDetail"},
        404: {"description": "No such subscription or delivery."},
    },
)
def delivery(tenant_id: Tenant, sub_id: SubId, delivery_id: DeliveryId) -> Response:
    found = subscriptions.delivery(_deliverer(), tenant_id, sub_id, delivery_id)
    return json_response(200, found.to_public(with_payload=True))


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/deliveries/<delivery_id>/redeliver",
    operation_id="redeliver",
    summary="Deliver again",
    tags=["webhooks"],
    responses={
        202: {"description": "Queued again from the start of the retry schedule.", "model": "Delivery"},
        404: {"description": "No such subscription or delivery."},
        409: {"description": "An attempt of this delivery is being made right now; retry in a minute."},
        422: {"description": DISABLED},
    },
)
def redeliver(tenant_id: Tenant, sub_id: SubId, delivery_id: DeliveryId) -> Response:
    return json_response(
        202, subscriptions.redeliver(_deliverer(), tenant_id, sub_id, delivery_id).to_public()
    )


@app.post(
    "/v2/tenants/<tenant_id>/webhooks/<sub_id>/recover",
    operation_id="recover_deliveries",
    summary="Redeliver every failed delivery since",
    tags=["webhooks"],
    responses={
        202: {"description": "Queued again, 100 at most per call.", "model": "Recovered"},
        404: {"description": NO_SUB},
        422: {"description": DISABLED},
    },
)
def recover(
    tenant_id: Tenant, sub_id: SubId, body: Annotated[bodies.RecoverIn, Body(embed=False)]
) -> Response:
    done = subscriptions.recover(_deliverer(), tenant_id, sub_id, body.since, body.cursor)
    return json_response(202, {"requeued": done.requeued, "next_cursor": done.next_cursor})
