"""Verifying the webhooks the API sends (Standard Webhooks, with the `standardwebhooks` library)."""

from __future__ import annotations

from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _LibraryError

from asyncjobs_client.errors import WebhookVerificationError
from asyncjobs_client.models import WebhookEvent

__all__ = ["WebhookVerificationError", "verify"]


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str) -> WebhookEvent:
    """The event of a webhook whose signature matches `secret` (the subscription's `whsec_…`).

    Pass the body exactly as received (bytes): a re-serialized body does not verify. Header names
    may be in any case. Raises `WebhookVerificationError` when the signature is missing or wrong
    (forged, altered, another secret) or the `webhook-timestamp` is more than 5 minutes off (a
    replay). During a secret rotation every active secret signs, so either secret verifies."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        doc = Webhook(secret).verify(payload, lowered)
    except _LibraryError as exc:
        raise WebhookVerificationError(str(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:  # a malformed secret or body
        raise WebhookVerificationError(f"cannot verify: {exc}") from exc
    return WebhookEvent.parse(lowered.get("webhook-id", ""), doc)
