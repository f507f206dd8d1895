"""Error answers as API Gateway proxy results, in the one error format (`openapi.ErrorBody`), for
the code that answers before any resolver runs (the request gate) or without one (the Haven API's
body checks). Kept apart from `errors`, which registers Powertools' handlers: importing this must
not import Powertools' event handler (~230 modules), or HavenFunction pays for it at cold start."""

from __future__ import annotations

import json
from typing import Any


def proxy_error(
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
