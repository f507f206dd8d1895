"""Which (operation, status) pairs a local stack answered, read from its request log, checked
against the statuses the OpenAPI document gives each operation."""

from __future__ import annotations

import re
from typing import Any

# `HTTP GET /v2/tenants/e2e/jobs?limit=1 → 200  StatusFunction 12 ms`, and the authorizer's refusals.
_LINE = re.compile(r"HTTP (?P<method>[A-Z]+) (?P<path>\S+) → (?P<status>\d{3})\b")


def answered(log: str) -> set[tuple[str, str, int]]:
    """(method, path without its query, status) of every request the local stack logged."""
    return {(m["method"], m["path"].split("?", 1)[0], int(m["status"])) for m in _LINE.finditer(log)}


def _template_regex(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "/?$")


def operation_of(doc: dict[str, Any], method: str, path: str) -> tuple[str, str] | None:
    """The documented (method, path template) a request reaches; static paths win, as in routing."""
    candidates = [
        (p, "{" not in p)
        for p, operations in doc["paths"].items()
        if method.lower() in operations and _template_regex(p).match(path)
    ]
    if not candidates:
        return None
    best = sorted(candidates, key=lambda c: not c[1])[0][0]
    return method, best


def undocumented(doc: dict[str, Any], answers: set[tuple[str, str, int]]) -> dict[tuple[str, str], set[int]]:
    """Per operation, the statuses it answered that the document does not list for it. Requests
    that reach no documented operation (unknown routes: 404 by design) are not counted."""
    found: dict[tuple[str, str], set[int]] = {}
    for method, path, status in answers:
        operation = operation_of(doc, method, path)
        if operation is None:
            continue
        documented = doc["paths"][operation[1]][method.lower()]["responses"]
        if str(status) not in documented:
            found.setdefault(operation, set()).add(status)
    return found


def covered(doc: dict[str, Any], answers: set[tuple[str, str, int]]) -> set[tuple[str, str, int]]:
    """(method, path template, status) of every documented answer some request got."""
    out = set()
    for method, path, status in answers:
        operation = operation_of(doc, method, path)
        if operation is not None:
            out.add((*operation, status))
    return out
