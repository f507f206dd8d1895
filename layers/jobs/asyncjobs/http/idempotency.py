"""`Idempotency-Key` on run, with Powertools' idempotency utility over its own DynamoDB table.

Powertools over hand-written conditional writes: it already implements the IETF draft's three
outcomes (same key + same request → the stored response; same key + another request → error; a
retry while the first is in flight → error), records in-flight requests with an expiry tied to the
function's remaining time (so a crashed request does not block its key), and deletes the record
when the first request fails, so a retry can succeed. It is imported on first use only: requests
without the header never pay for it.

Keys are per tenant (the record id includes the tenant) and kept 24 hours (`KEY_TTL_S`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from asyncjobs.aws import clients
from asyncjobs.errors import Conflict, InvalidRequest, ServiceUnavailable
from asyncjobs.settings import get_settings

KEY_TTL_S = 24 * 3600
REPLAYED = "_replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_context: Any = None


def register_context(context: Any) -> None:
    global _context
    _context = context


@cache
def _config() -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[tenant, key]",
        # What must match for a replay: the action, its resource and its inputs.
        payload_validation_jmespath="[action, path_params, body]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=KEY_TTL_S,
        hash_function="sha256",
        response_hook=lambda response, _record: {**response, REPLAYED: True},
    )


@cache
def _wrapped(
    function: Callable[[dict[str, Any]], dict[str, Any]], table: str, client: Any
) -> Callable[..., dict[str, Any]]:
    """The idempotent wrapper of `function`, once per process: keyed on the table and the (cached)
    client too, so a process whose settings and clients were reset gets a store that uses them."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    store = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)

    def accept(request: dict[str, Any]) -> dict[str, Any]:
        return function({k: v for k, v in request.items() if k != "key"})

    # Powertools puts the function's module and qualified name in every record id: keep them
    # stable, or existing keys stop matching after a refactor. The module is the one this code
    # lived in before it moved to asyncjobs.http.idempotency.
    accept.__name__ = accept.__qualname__ = f"accept_{function.__name__}"
    accept.__module__ = "asyncjobs.idempotency"
    decorated: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="request", persistence_store=store, config=_config()
    )(accept)
    return decorated


def accept_once(
    function: Callable[[dict[str, Any]], dict[str, Any]], request: dict[str, Any], key: str
) -> dict[str, Any]:
    """Runs `function(request)` once per (tenant, key); returns its stored result on a replay."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    if not _KEY.match(key):
        raise InvalidRequest("header `Idempotency-Key` must be 1-255 visible ASCII characters")
    if _context is not None:
        _config().register_lambda_context(_context)
    try:
        wrapped = _wrapped(function, get_settings().idempotency_table, clients.client("dynamodb"))
        return dict(wrapped(request={**request, "key": key}))
    except IdempotencyValidationError as exc:
        raise InvalidRequest(
            "this Idempotency-Key was already used with a different request; use a new key for a new request"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly", retry_after=1
        ) from exc
    except IdempotencyPersistenceLayerError as exc:
        raise ServiceUnavailable("the idempotency store is unavailable; retry the request") from exc
