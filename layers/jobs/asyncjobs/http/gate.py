"""The request gate every API function runs before routing (the caller's tenant, the body's size,
media type and JSON limits), and the bounded JSON parser behind it."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
from itertools import accumulate
from typing import Any

from asyncjobs.http.proxy import proxy_error
from asyncjobs.observability import logger

MAX_BODY_BYTES = 256 * 1024
WWW_AUTHENTICATE = 'Bearer realm="asyncjobs"'


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
        return proxy_error(self.status, self.code, self.message, details=self.details)


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
        return proxy_error(
            401,
            "unauthorized",
            "Send a valid API key as `Authorization: Bearer <key>`"
            + (" (this one is unknown or revoked)." if error == "invalid_token" else "."),
            {"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="{error}"'},
        )
    if auth["tenant_id"] != tenant:
        return proxy_error(403, "forbidden", "This API key does not belong to the tenant in the path.")
    logger.append_keys(tenant_id=tenant, key_id=auth.get("key_id"))
    body = event.get("body") or ""
    content_type = (event.get("headers") or {}).get("content-type", "application/json").split(";")[0].strip()
    if body and not (content_type == "application/json" or content_type.endswith("+json")):
        return proxy_error(415, "unsupported_media_type", "Send the request body as application/json.")
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    text = body
    if body and event.get("isBase64Encoded") and size <= MAX_BODY_BYTES:
        try:  # API Gateway base64-encodes a body that is not valid text: it cannot be JSON
            text = base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return proxy_error(400, "malformed_json", "The request body is not valid JSON (not UTF-8).")
    if size > MAX_BODY_BYTES:
        return proxy_error(
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
