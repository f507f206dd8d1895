"""`GET /openapi.json` on a deployed stack: the API's OpenAPI document, public (no API key), with
`servers` set to the base URL the request came to, as the local stack serves it.

The document is the one `make openapi` generates into the layer (`asyncjobs/openapi.json`, which
`docs/openapi.json` links to): the layer ships it to StatusFunction, which answers this route. It
is read and parsed on the first request only; each answer then adds `servers` to the cached text
(no parse, no serialization of the whole document per request). Nothing here imports pydantic or
Powertools: the route costs StatusFunction's cold start nothing until it is called."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

ROUTE_KEY = "GET /openapi.json"
PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "openapi.json")
HEADERS = {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}

_lock = threading.Lock()  # the local stack and the tests call handlers on several threads
_head: str | None = None  # the compact document without `servers` and its closing brace


def _document_head() -> str:
    global _head
    if _head is None:
        with _lock:
            if _head is None:
                with open(PATH, encoding="utf-8") as f:
                    doc = json.load(f)
                doc.pop("servers", None)  # the request's own URL replaces any
                text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
                _head = text[:-1] + ("," if doc else "")
    return _head


def base_url(event: dict[str, Any]) -> str:
    """The URL the API was called at: scheme and host (API Gateway's `domainName`, else the Host
    header), and the stage when it is part of the path (a named stage on the execute-api domain;
    not `$default`, nor a custom domain, where the stage is not in the path)."""
    context = event.get("requestContext") or {}
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    host = context.get("domainName") or headers.get("host") or "localhost"
    scheme = str(headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    stage = context.get("stage")
    raw_path = event.get("rawPath") or ""
    prefix = f"/{stage}" if stage and stage != "$default" and raw_path.startswith(f"/{stage}/") else ""
    return f"{scheme}://{host}{prefix}"


def openapi_response(event: dict[str, Any]) -> dict[str, Any]:
    """The API Gateway (payload 2.0) result that answers `GET /openapi.json`."""
    servers = json.dumps([{"url": base_url(event)}], ensure_ascii=False)
    return {
        "statusCode": 200,
        "headers": dict(HEADERS),
        "body": f'{_document_head()}"servers":{servers}}}',
        "isBase64Encoded": False,
    }
