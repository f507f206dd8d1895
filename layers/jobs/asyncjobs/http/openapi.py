"""The OpenAPI side of the API, offline only (the local stack's /openapi.json, `make openapi`):
Powertools' resolver, given the routes the functions' router serves (`powertools_app`), documents
their parameters and request bodies; each operation's responses are what its route declares (its
2xx bodies as models of `http.v2.schemas`, named by string) and the error statuses it can answer
(`statuses`), with the one error body. No handler imports
this module at run time: Powertools' event handler and its OpenAPI models cost too much at every
cold start for a document the functions never serve (see `http.router`)."""

from __future__ import annotations

import copy
import functools
import inspect
import json
from dataclasses import dataclass, field
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
    """Powertools' HTTP API resolver, declaring the bearer key scheme in the OpenAPI document, and
    each operation's response bodies and statuses as its route declares them (`route_meta`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_body_deserializer", load_checked_json)
        super().__init__(**kwargs)
        self.route_meta: dict[tuple[str, str], RouteMeta] = {}

    def get_openapi_json_schema(self, **kwargs: Any) -> str:  # type: ignore[override]
        from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

        kwargs.setdefault("title", "asyncjobs")
        kwargs.setdefault("security_schemes", {"apiKey": HTTPBearer(description="An API key of the tenant.")})
        kwargs.setdefault("security", [{"apiKey": []}])
        doc = json.loads(super().get_openapi_json_schema(**kwargs))
        return json.dumps(document_responses(doc, self.route_meta))


@dataclass
class RouteMeta:
    """What an operation answers, as its route declares it: 2xx bodies by model name (in
    `asyncjobs.http.v2.schemas`), the errors only this route gives, and whether it reads a body
    or parameters other than the tenant (which decides the request errors it can answer)."""

    method: str
    models: dict[int, str | None]
    errors: dict[int, str]
    reads_body: bool
    reads_params: bool
    headers: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Per 2xx status, the response headers it carries: name -> `{description, required?}`."""


ERROR_STATUSES = {
    400: "The body is not JSON (or not UTF-8).",
    401: "No valid API key: our body says why (`WWW-Authenticate` too); with no `Authorization` "
    'header at all, API Gateway answers `{"message": "Unauthorized"}` before any function runs.',
    403: 'The key belongs to another tenant (API Gateway\'s `{"message": "Forbidden"}` if the '
    "authorizer refuses the request).",
    404: "No such resource for this tenant.",
    409: "The request conflicts with the resource's state.",
    413: "The body is over 256 KB (over 10 MB, API Gateway answers itself).",
    415: "The body is not application/json.",
    422: "The request is invalid: `message` names each field to fix; `details` lists them.",
    429: 'API Gateway\'s stage throttling (`{"message": "Too Many Requests"}`); retry later.',
    503: "A dependency is unavailable; retry after `Retry-After` seconds (API Gateway answers "
    '`{"message": "Service Unavailable"}` if the function did not answer in time).',
}
# Statuses API Gateway itself may answer an existing route with, in its own shape.
GATEWAY_STATUSES = {401, 403, 413, 429, 503}
GATEWAY_ONLY = {429}  # no function answers these
# Every operation: no or a wrong key, throttling, a dependency down.
ALWAYS = {401, 403, 429, 503}
# Any POST or PATCH may carry a body, which the gate checks before routing (`http.gate`): too
# large, not JSON, or past the JSON limits (422). GET and DELETE take none; one sent anyway is
# checked the same way, which this document does not describe.
BODY_STATUSES = {400, 413, 415, 422}


def statuses(meta: RouteMeta) -> set[int]:
    """The error statuses an operation can answer."""
    found = set(ALWAYS) | set(meta.errors)
    if meta.method in ("post", "patch"):
        found |= BODY_STATUSES
    if meta.reads_body or meta.reads_params:
        found.add(422)
    return found


def response_schemas(names: set[str]) -> dict[str, Any]:
    """The JSON schemas of the named response models and of every model they use."""
    from pydantic.json_schema import models_json_schema

    from asyncjobs.http.v2 import schemas

    models = [(getattr(schemas, name), "serialization") for name in sorted(names)]
    _, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    found: dict[str, Any] = defs.get("$defs", {})
    return found


def document_responses(doc: dict[str, Any], meta: dict[tuple[str, str], RouteMeta]) -> dict[str, Any]:
    """Each operation's responses as its route declares them: every 2xx with its model, and the
    error statuses it can answer (`statuses`), each with the one error body (or API Gateway's)."""
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
    schemas.update(response_schemas({m for r in meta.values() for m in r.models.values() if m}))
    ours = {"$ref": "#/components/schemas/ErrorBody"}
    either = {"anyOf": [ours, {"$ref": "#/components/schemas/GatewayError"}]}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            route = meta[(method, path)]
            declared = operation.get("responses", {})
            responses: dict[str, Any] = {}
            for status, model in sorted(route.models.items()):
                response = {"description": declared.get(str(status), {}).get("description", "OK")}
                if status in route.headers:
                    response["headers"] = _headers(route.headers[status])
                if model is not None:
                    ref = {"$ref": f"#/components/schemas/{model}"}
                    response["content"] = {"application/json": {"schema": ref}}
                responses[str(status)] = response
            for status in sorted(statuses(route)):
                schema = either if status in GATEWAY_STATUSES else ours
                if status in GATEWAY_ONLY:
                    schema = {"$ref": "#/components/schemas/GatewayError"}
                responses[str(status)] = {
                    "description": route.errors.get(status) or ERROR_STATUSES[status],
                    "content": {"application/json": {"schema": schema}},
                }
                if status in ERROR_HEADERS:
                    responses[str(status)]["headers"] = _headers(ERROR_HEADERS[status])
            operation["responses"] = responses
    return doc


# Headers of our error answers (API Gateway's own answers carry neither).
ERROR_HEADERS = {
    401: {
        "WWW-Authenticate": {"description": 'Why the key was refused: `Bearer realm="asyncjobs", error="…"`.'}
    },
    503: {"Retry-After": {"description": "Seconds to wait before retrying."}},
}


def _headers(declared: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: {**header, "schema": {"type": "string"}} for name, header in declared.items()}


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
    from asyncjobs.http.router import route_fields

    app = Resolver(enable_validation=True)
    register_error_handlers(app)
    for r in router.routes:
        doc = copy.deepcopy(r.doc)
        models: dict[int, str | None] = {}
        headers: dict[int, dict[str, Any]] = {}
        errors: dict[int, str] = {}
        for status, response in doc.get("responses", {}).items():
            if status < 300:
                models[status] = response.pop("model", None)
                if "headers" in response:
                    headers[status] = response.pop("headers")
                if models[status] is None and status != 204:
                    raise ValueError(f"{r.method} {r.path}: the {status} response names no `model`")
            else:
                errors[status] = response.get("description", "")
        if not models:
            raise ValueError(f"{r.method} {r.path}: declares no 2xx response")
        fields = route_fields(r.func)
        app.route_meta[(r.method.lower(), r.path.replace("<", "{").replace(">", "}"))] = RouteMeta(
            method=r.method.lower(),
            models=models,
            errors=errors,
            reads_body=any(f.param.where == "body" for f in fields),
            reads_params=any(f.param.where != "body" and f.name != "tenant_id" for f in fields),
            headers=headers,
        )
        app.route(r.path, r.method, **doc)(powertools_route(r.func, router, app))
    return app
