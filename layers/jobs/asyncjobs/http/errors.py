"""The one error format of the HTTP API, and the one place mapping exceptions to it.

Every error body is `{"error": {"code", "message", "details"?}}`: `code` is for machines,
`message` is a sentence a person can act on, `details` lists field errors for 422s. A domain
error answers with the status its class declares (`DomainError.status`), so a subclass answers
as its parent does.
"""

from __future__ import annotations

import json
from typing import Any

from asyncjobs.errors import DomainError, InfrastructureError, ServiceUnavailable
from asyncjobs.http.proxy import proxy_error
from asyncjobs.http.router import Request, RequestValidationError, Response, UnsupportedContentType
from asyncjobs.observability import logger

__all__ = ["answer_error", "answer_not_found", "error_response", "proxy_error", "register_error_handlers"]

APPLICATION_JSON = "application/json"


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Response(
        status_code=status,
        content_type=APPLICATION_JSON,
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


def _validation_response(errors: list[dict[str, Any]]) -> Response:
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    if any(e.get("type") == "unsupported_content_type" for e in errors):
        return error_response(415, "unsupported_media_type", "Send the request body as application/json.")
    details = _field_errors(errors)
    summary = "; ".join(f"{d['location']} `{d['field']}` {d['message']}" for d in details)
    return error_response(422, "validation_failed", f"The request is invalid: {summary}.", details)


def _domain(ex: DomainError) -> Response:
    headers = {"Retry-After": str(ex.retry_after)} if ex.retry_after is not None else None
    return error_response(ex.status, ex.code, ex.message, headers=headers)


def answer_error(ex: Exception, request: Request | None = None) -> Response:
    """The answer to an exception a route (or reading its request) raised."""
    if isinstance(ex, RequestValidationError):
        return _validation_response(list(ex.errors()))
    if isinstance(ex, UnsupportedContentType):
        return error_response(415, "unsupported_media_type", "Send the request body as application/json.")
    if isinstance(ex, InfrastructureError):
        # Storage or a queue failed after the SDK's retries: the caller may retry, as documented.
        logger.error("dependency unavailable", extra={"reason": str(ex)})
        return _domain(ServiceUnavailable("A dependency is unavailable; retry after `Retry-After` seconds."))
    if isinstance(ex, DomainError):
        return _domain(ex)
    logger.exception("unhandled error")
    return error_response(500, "internal_error", "An unexpected error occurred; retry later.")


def answer_not_found(request: Request) -> Response:
    return error_response(
        404, "route_not_found", f"No route {request.method} {request.path}: check the action name and path."
    )


def register_error_handlers(app: Any) -> None:
    """The same answers from a Powertools resolver (`http.openapi.powertools_app`, offline): the
    tests compare it with the router, request by request."""
    from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError
    from aws_lambda_powertools.event_handler.openapi.exceptions import (
        RequestUnsupportedContentType,
    )
    from aws_lambda_powertools.event_handler.openapi.exceptions import (
        RequestValidationError as PowertoolsValidationError,
    )

    def convert(response: Response) -> PowertoolsResponse[str]:
        return PowertoolsResponse(
            status_code=response.status_code,
            content_type=response.content_type,
            body=response.body,
            headers=response.headers,
        )

    @app.exception_handler(PowertoolsValidationError)
    def _invalid(ex: PowertoolsValidationError) -> PowertoolsResponse[str]:
        return convert(_validation_response(list(ex.errors())))

    @app.exception_handler(RequestUnsupportedContentType)
    def _media(_: Exception) -> PowertoolsResponse[str]:
        return convert(answer_error(UnsupportedContentType()))

    @app.not_found
    def _not_found(_: NotFoundError) -> PowertoolsResponse[str]:
        event = app.current_event
        method = event.request_context.http.method
        return convert(
            error_response(
                404, "route_not_found", f"No route {method} {event.path}: check the action name and path."
            )
        )

    @app.exception_handler(Exception)
    def _any(ex: Exception) -> PowertoolsResponse[str]:
        return convert(answer_error(ex))
