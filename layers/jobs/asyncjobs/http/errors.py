"""The one error format of the HTTP API, and the one place mapping exceptions to it.

Every error body is `{"error": {"code", "message", "details"?}}`: `code` is for machines,
`message` is a sentence a person can act on, `details` lists field errors for 422s. A domain
error answers with the status its class declares (`DomainError.status`), so a subclass answers
as its parent does.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import BaseModel

from asyncjobs.errors import DomainError, InfrastructureError, ServiceUnavailable
from asyncjobs.http.proxy import proxy_error
from asyncjobs.observability import logger

__all__ = ["ErrorBody", "error_response", "proxy_error", "register_error_handlers"]


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


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Answers every exception a route raises in the one error format."""

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
