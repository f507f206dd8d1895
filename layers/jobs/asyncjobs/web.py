"""HTTP plumbing shared by the API functions: one error format, one place mapping errors to codes.

Every error body is `{"error": {"code", "message", "details"?}}`: `code` is for machines,
`message` is a sentence a person can act on, `details` lists field errors for 422s.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import math
import re
import threading
from collections.abc import Callable
from itertools import accumulate
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel

from asyncjobs.actions.base import Action
from asyncjobs.errors import DomainError, InfrastructureError, ServiceUnavailable
from asyncjobs.observability import logger

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
PATH_PARAM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


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


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": error}),
        headers=headers,
    )


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        location = loc[0] if loc else "body"
        field = ".".join(loc[1:]) or location
        message = err.get("msg", "is invalid")
        if err.get("type") == "missing":
            message = "is required"
        elif err.get("type") == "extra_forbidden":
            message = "is not a known field; remove it"
        details.append(
            {"field": field, "location": location, "message": message, "type": err.get("type", "")}
        )
    return details


def _validation_response(ex: RequestValidationError) -> Response[str]:
    errors = list(ex.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    if any(e.get("type") == "unsupported_content_type" for e in errors):
        return error_response(415, "unsupported_media_type", "Send the request body as application/json.")
    details = _field_errors(errors)
    summary = "; ".join(f"{d['location']} `{d['field']}` {d['message']}" for d in details)
    return error_response(422, "validation_failed", f"The request is invalid: {summary}.", details)


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
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
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


def new_app() -> APIGatewayHttpResolver:
    app = Resolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid(ex: RequestValidationError) -> Response[str]:
        return _validation_response(ex)

    @app.exception_handler(RequestUnsupportedContentType)
    def _media(_: Exception) -> Response[str]:
        return error_response(415, "unsupported_media_type", "Send the request body as application/json.")

    @app.exception_handler(DomainError)
    def _domain(ex: DomainError) -> Response[str]:
        headers = {"Retry-After": str(ex.retry_after)} if ex.retry_after is not None else None
        return error_response(ex.status, ex.code, ex.message, headers=headers)

    @app.exception_handler(InfrastructureError)
    def _unavailable(ex: InfrastructureError) -> Response[str]:
        # Storage or a queue failed after the SDK's retries: the caller may retry, as documented.
        logger.error("dependency unavailable", extra={"reason": str(ex)})
        unavailable = ServiceUnavailable("A dependency is unavailable; retry after `Retry-After` seconds.")
        return _domain(unavailable)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        method = app.current_event.request_context.http.method
        return error_response(
            404,
            "route_not_found",
            f"No route {method} {app.current_event.path}: check the action name and path.",
        )

    @app.exception_handler(Exception)
    def _unexpected(ex: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "An unexpected error occurred; retry later.")

    return app


def _params(action: Action) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("tenant_id", kw, annotation=Annotated[str, Path(pattern=TENANT_ID_PATTERN)])]
    params += [
        inspect.Parameter(name, kw, annotation=Annotated[str, Path(pattern=PATH_PARAM_PATTERN)])
        for name in action.path_params
    ]
    return params


def action_route(
    action: Action,
    handler: Callable[..., Response[str]],
    extra: list[tuple[Any, ...]],
    name: str,
) -> Callable[..., Response[str]]:
    """A route function for one action whose signature declares the tenant, the action's own
    path parameters and `extra` ((name, annotation[, default]) for body, query or headers), so
    Powertools validates them and documents them
    in OpenAPI. `handler(action, tenant_id, path_params, **extra)` does the work."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = _params(action) + [
        inspect.Parameter(e[0], kw, annotation=e[1], default=e[2] if len(e) > 2 else inspect.Parameter.empty)
        for e in extra
    ]

    def route(**kwargs: Any) -> Response[str]:
        tenant_id = kwargs.pop("tenant_id")
        path_params = {p: kwargs.pop(p) for p in action.path_params}
        return handler(action, tenant_id, path_params, **kwargs)

    route.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    route.__name__ = f"{name}_{action.name}"
    route.__doc__ = action.description
    return route


def resolver_path(path: str) -> str:
    """`/a/{b}` (OpenAPI and API Gateway style) → `/a/<b>` (Powertools' route syntax)."""
    return path.replace("{", "<").replace("}", ">")


MAX_BODY_BYTES = 256 * 1024
WWW_AUTHENTICATE = 'Bearer realm="asyncjobs"'


def _proxy_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps({"error": error}),
        "isBase64Encoded": False,
    }


# How deeply arrays and objects may nest in any request body (the body itself is level 1). The
# executor re-parses a job's stored input with pydantic's JSON parser, whose recursion limit (200)
# is below the standard library's; pydantic's validation and serialization recurse too. 64 is far
# below every one of those limits, so whatever run accepts the executor can parse (with room for
# the input to be wrapped), and far above what any input model needs (the deepest nests 3 levels).
MAX_JSON_DEPTH = 64
# Longest integer (in digits) in any request body. Python refuses to convert integers of over 4,300
# digits either way (str <-> int), so a larger one could not be parsed, stored or echoed back; 1,000
# stays well clear of that, and no input needs more (a value that long belongs in a string).
MAX_JSON_INT_DIGITS = 1000

# A JSON string, or an unclosed one up to the end of the text: without that second form a body of
# escaped quotes that never closes makes each quote rescan to the end (quadratic: ~200 s for 256 KB).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A UTF-16 surrogate, escaped or raw: only then is a string checked for unpaired halves.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


class BodyRefused(Exception):
    """A request body the service will not read, with the 4xx answer that says why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details: list[dict[str, str]] | None = None

    @classmethod
    def invalid(cls, problem: str, type_: str) -> BodyRefused:
        """A 422 for the body as a whole, shaped like every other 422 (one field error)."""
        refused = cls(422, "validation_failed", f"The request is invalid: body {problem}.")
        refused.details = [{"field": "body", "location": "body", "message": problem, "type": type_}]
        return refused

    def response(self) -> dict[str, Any]:
        return _proxy_error(self.status, self.code, self.message, details=self.details)


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text, counted without recursion (exact for
    valid JSON; for invalid JSON, close enough, since it is refused either way)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def _parse_int(digits: str) -> int:
    count = len(digits.lstrip("-"))
    if count > MAX_JSON_INT_DIGITS:
        raise BodyRefused.invalid(
            f"has a number of {count} digits; the limit is {MAX_JSON_INT_DIGITS} digits "
            "(send longer values as strings)",
            "int_too_long",
        )
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise BodyRefused.invalid(
            f"has the number {shown}, out of range (numbers must fit a 64-bit float)", "number_out_of_range"
        )
    return value


def _parse_constant(name: str) -> Any:
    raise BodyRefused(
        400, "malformed_json", f"The request body is not valid JSON: {name} is not a JSON number."
    )


def parse_json_body(text: str) -> Any:
    """Parses a request body within the service's limits, or raises BodyRefused: nesting deeper
    than MAX_JSON_DEPTH, integers longer than MAX_JSON_INT_DIGITS, numbers out of float range,
    NaN/Infinity, and unpaired UTF-16 surrogates (which no later step could encode as UTF-8)."""
    # (Counting brackets first spares the scan to the many bodies that cannot be too deep.)
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and (depth := json_depth(text)) > MAX_JSON_DEPTH:
        raise BodyRefused.invalid(
            f"nests arrays and objects {depth} levels deep; the limit is {MAX_JSON_DEPTH} levels", "too_deep"
        )
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BodyRefused(400, "malformed_json", "The request body is not valid JSON.") from exc
    if _SURROGATE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BodyRefused(
                400,
                "malformed_json",
                "The request body is not valid JSON text: a string has an unpaired UTF-16 surrogate "
                "(\\ud800-\\udfff escape); send valid Unicode.",
            ) from exc
    return value


# The body gate() parsed, handed to the resolver so that it is parsed once (per thread: the local
# stack serves requests concurrently).
_checked = threading.local()


def load_checked_json(text: str) -> Any:
    """The resolver's JSON body deserializer: the value gate() parsed from this very text, else
    (a request that did not go through gate()) a parse within the same limits."""
    cached, value = getattr(_checked, "text", None), getattr(_checked, "value", None)
    _checked.text = _checked.value = None
    if cached is not None and (cached is text or cached == text):
        return value
    try:
        return parse_json_body(text)
    except BodyRefused as exc:  # the resolver answers a JSONDecodeError with 400 malformed_json
        raise json.JSONDecodeError(exc.message, text, 0) from exc


def gate(event: dict[str, Any]) -> dict[str, Any] | None:
    """Checks a request before routing: the caller's key (as verified by the authorizer) must
    belong to the tenant in the path, and the body must fit and be JSON within the limits of
    `parse_json_body` (parsed here once, for every route). Returns the error response, if any.

    Runs before validation, so an unauthenticated caller learns nothing about the API's inputs.
    """
    auth = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    tenant = (event.get("pathParameters") or {}).get("tenant_id")
    if not auth.get("tenant_id"):
        error = auth.get("auth_error", "invalid_request")
        return _proxy_error(
            401,
            "unauthorized",
            "Send a valid API key as `Authorization: Bearer <key>`"
            + (" (this one is unknown or revoked)." if error == "invalid_token" else "."),
            {"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="{error}"'},
        )
    if auth["tenant_id"] != tenant:
        return _proxy_error(403, "forbidden", "This API key does not belong to the tenant in the path.")
    logger.append_keys(tenant_id=tenant, key_id=auth.get("key_id"))
    body = event.get("body") or ""
    content_type = (event.get("headers") or {}).get("content-type", "application/json").split(";")[0].strip()
    if body and not (content_type == "application/json" or content_type.endswith("+json")):
        return _proxy_error(415, "unsupported_media_type", "Send the request body as application/json.")
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    text = body
    if body and event.get("isBase64Encoded") and size <= MAX_BODY_BYTES:
        try:  # API Gateway base64-encodes a body that is not valid text: it cannot be JSON
            text = base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _proxy_error(400, "malformed_json", "The request body is not valid JSON (not UTF-8).")
    if size > MAX_BODY_BYTES:
        return _proxy_error(
            413,
            "payload_too_large",
            f"The request body is {size} bytes; the limit is {MAX_BODY_BYTES} bytes.",
        )
    if text:
        try:
            _checked.text, _checked.value = text, parse_json_body(text)
        except BodyRefused as exc:
            return exc.response()
    return None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


BODY = Body(embed=False)
