"""The OpenAPI side of the API, offline only (the local stack's /openapi.json, `make openapi`):
Powertools' resolver, given the routes the functions' router serves (`powertools_app`), documents
them, with the bearer key scheme and the one error body on every operation. No handler imports
this module at run time: Powertools' event handler and its OpenAPI models cost too much at every
cold start for a document the functions never serve (see `http.router`)."""

from __future__ import annotations

import functools
import inspect
import json
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from aws_lambda_powertools.event_handler.openapi import params as powertools_params
from pydantic import BaseModel

from asyncjobs.http.errors import register_error_handlers
from asyncjobs.http.gate import load_checked_json
from asyncjobs.http.params import Param

if TYPE_CHECKING:
    from collections.abc import Callable

    from asyncjobs.http.router import Router


class ErrorDetail(BaseModel):
    field: str
    location: str
    message: str
    type: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx response."""

    error: ErrorInfo


class Resolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver, declaring the bearer key scheme in the OpenAPI document."""

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


_POWERTOOLS_PARAMS = {
    "path": powertools_params.Path,
    "query": powertools_params.Query,
    "header": powertools_params.Header,
    "body": powertools_params.Body,
}


def _powertools_annotation(annotation: Any) -> Any:
    """`Annotated[T, our Param]` -> `Annotated[T, Powertools' Param]`, with the same arguments."""
    if get_origin(annotation) is not Annotated:
        return annotation
    base, *metadata = get_args(annotation)
    converted = [_POWERTOOLS_PARAMS[m.where](**m.kwargs) if isinstance(m, Param) else m for m in metadata]
    return Annotated[(base, *converted)]  # type: ignore[valid-type]


def powertools_route(func: Callable[..., Any], router: Router, app: Resolver) -> Callable[..., Any]:
    """The route function as Powertools reads it: the same name, docstring and parameters, each
    annotated with Powertools' marker, returning Powertools' `Response` (and the router's
    `current_event` set, which routes read)."""
    from asyncjobs.http.router import route_fields

    fields = {f.name: f for f in route_fields(func)}
    signature = inspect.signature(func)
    params = [
        p.replace(
            annotation=_powertools_annotation(Annotated[fields[p.name].annotation, fields[p.name].param])
        )
        for p in signature.parameters.values()
    ]

    @functools.wraps(func)
    def route(**kwargs: Any) -> Any:
        router.bind(app.current_event.raw_event, app.lambda_context)
        answer = func(**kwargs)
        return PowertoolsResponse(
            status_code=answer.status_code,
            content_type=answer.content_type,
            body=answer.body,
            headers=answer.headers,
        )

    route.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=PowertoolsResponse[str]
    )
    return route


def powertools_app(router: Router) -> Resolver:
    """A Powertools resolver with the router's routes, in the same order and with the same error
    answers: it builds the OpenAPI document, and the tests compare its answers with the router's."""
    app = Resolver(enable_validation=True)
    register_error_handlers(app)
    for r in router.routes:
        app.route(r.path, r.method, **r.doc)(powertools_route(r.func, router, app))
    return app
