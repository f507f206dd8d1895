"""The router every API function starts from, and its JSON responses."""

from __future__ import annotations

import json
from typing import Any

from asyncjobs.http.errors import answer_error, answer_not_found
from asyncjobs.http.gate import load_checked_json
from asyncjobs.http.router import Response, Router


def new_app() -> Router:
    return Router(on_error=answer_error, on_not_found=answer_not_found, json_loads=load_checked_json)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )
