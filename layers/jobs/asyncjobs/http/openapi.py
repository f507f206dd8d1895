"""The OpenAPI side of the API: the resolver that documents the bearer key scheme, and the patch
that gives every operation the one error body."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from asyncjobs.http.errors import ErrorBody
from asyncjobs.http.gate import load_checked_json


class Resolver(APIGatewayHttpResolver):
    """The HTTP API resolver, declaring the bearer key scheme in the OpenAPI document only when a
    document is asked for: Powertools' OpenAPI models are ~50 pydantic classes, too costly to
    import at every cold start for a document the functions never serve."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_body_deserializer", load_checked_json)
        super().__init__(**kwargs)

    def get_openapi_json_schema(self, **kwargs: Any) -> str:  # type: ignore[override]
        from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

        kwargs.setdefault("title", "asyncjobs")
        kwargs.setdefault("security_schemes", {"apiKey": HTTPBearer(description="An API key of the tenant.")})
        kwargs.setdefault("security", [{"apiKey": []}])
        return json.dumps(document_errors(json.loads(super().get_openapi_json_schema(**kwargs))))


ERROR_STATUSES = {
    400: "The body is not JSON.",
    401: "No valid API key (`WWW-Authenticate` says why).",
    403: "The key belongs to another tenant.",
    404: "No such route, job or resource for this tenant.",
    409: "The request conflicts with the resource's state (or an in-flight Idempotency-Key).",
    413: "The body is too large.",
    415: "The body is not application/json.",
    422: "The request is invalid: `message` names each field to fix; `details` lists them.",
    503: "A dependency is unavailable; retry after `Retry-After` seconds.",
}


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Every operation answers errors with the one error body, whatever Powertools assumed."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    # Powertools' own validation-error schemas: our error body replaces them everywhere.
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    schemas["GatewayError"] = {
        "description": "API Gateway's own answer, given before any function runs (e.g. no Authorization).",
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    }
    ours = {"$ref": "#/components/schemas/ErrorBody"}
    either = {"anyOf": [ours, {"$ref": "#/components/schemas/GatewayError"}]}
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                # Routes return a prepared Response, which Powertools can only call a string.
                if status.startswith("2"):
                    if status == "204":
                        response.pop("content", None)
                    else:
                        response["content"] = {"application/json": {"schema": {"type": "object"}}}
            for status, text in ERROR_STATUSES.items():
                schema = either if status in GATEWAY_STATUSES else ours
                responses[str(status)] = {
                    "description": text,
                    "content": {"application/json": {"schema": schema}},
                }
    return doc


# Statuses API Gateway itself may answer with, in its own shape.
GATEWAY_STATUSES = {401, 403, 404, 413, 503}
