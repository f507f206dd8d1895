"""The HTTP status of a domain error comes from its class, so a subclass answers as its parent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asyncjobs.errors import Conflict, InfrastructureError, InvalidRequest, NotFound, ServiceUnavailable
from asyncjobs.http.app import new_app


class JobGone(NotFound):
    """A subclass no mapping lists by name."""

    code = "job_gone"


def _event(path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": path}, "stage": "$default"},
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound("no such job"), 404, "not_found"),
        (JobGone("the job expired"), 404, "job_gone"),
        (Conflict("busy"), 409, "conflict"),
        (InvalidRequest("bad"), 422, "invalid_request"),
        (ServiceUnavailable("down"), 503, "service_unavailable"),
        (InfrastructureError("DynamoDB failed"), 503, "service_unavailable"),
    ],
)
def test_error_status_follows_the_class_hierarchy(error, status, code):
    # Given a route that raises the error
    app = new_app()

    @app.get("/boom")
    def boom() -> None:
        raise error

    # When it is called
    reply = app.resolve(_event("/boom"), None)

    # Then the answer has the status and code of the error's class
    assert reply["statusCode"] == status
    assert json.loads(reply["body"])["error"]["code"] == code
    if status == 503:
        assert reply["headers"]["Retry-After"] == "5"
