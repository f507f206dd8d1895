"""AuthorizerFunction: verifies the API key of an HTTP API request (Lambda authorizer, payload 2.0,
simple responses). API Gateway caches the answer per Authorization header (ReauthorizeEvery).

The authorizer establishes *who* calls; the API functions decide *what* they may do. An unknown,
malformed or revoked key is let through with `auth_error` in the context, so the function can
answer 401 with `WWW-Authenticate` (an HTTP API cannot add headers to its own 401/403), and a key
of another tenant gets 403 from the function, which sees the path. A missing header never gets
here: API Gateway answers 401 itself.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.aws import clients as aws
from asyncjobs.observability import logger
from asyncjobs.settings import get_settings
from asyncjobs.tenancy.tenants import Tenants


def _tenants() -> Tenants:
    return Tenants(aws.client("dynamodb"), get_settings().tenants_table)  # the client is cached


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    header = (event.get("headers") or {}).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        logger.info("request without a bearer key")
        return {"isAuthorized": True, "context": {"auth_error": "invalid_request"}}
    # A DynamoDB failure raises: API Gateway answers 500 and caches nothing, so the key works
    # again as soon as DynamoDB does (a cached denial would lock it out for the whole TTL).
    principal = _tenants().verify(token.strip())
    if principal is None:
        logger.info("unknown or revoked key")
        return {"isAuthorized": True, "context": {"auth_error": "invalid_token"}}
    logger.info("key verified", extra={"tenant_id": principal.tenant_id, "key_id": principal.key_id})
    return {"isAuthorized": True, "context": {"tenant_id": principal.tenant_id, "key_id": principal.key_id}}
