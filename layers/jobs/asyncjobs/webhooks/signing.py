"""What a receiver verifies: the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) and the subscription's own receiver auth."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from asyncjobs.webhooks.models import Delivery, Subscription

USER_AGENT = "asyncjobs-webhooks/1"


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
