"""WebhooksFunction: the Webhooks API, per tenant: subscriptions, secret rotation, test pings,
the delivery log, redelivery and recovery (routes: asyncjobs.http.v2.webhooks; use cases:
asyncjobs.webhooks.subscriptions)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.http.gate import gate
from asyncjobs.http.v2.webhooks import app
from asyncjobs.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return gate(event) or app.resolve(event, context)
