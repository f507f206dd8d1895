"""The resolver every API function starts from, and its JSON responses."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from asyncjobs.http.errors import register_error_handlers
from asyncjobs.http.openapi import Resolver


def new_app() -> APIGatewayHttpResolver:
    app = Resolver(enable_validation=True)
    register_error_handlers(app)
    return app


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )
