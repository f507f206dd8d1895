"""HTTP API routes as the template declares them, matched the way API Gateway matches them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devstack.template import Translated


@dataclass(frozen=True)
class Route:
    method: str  # "ANY" matches every method
    path: str
    function: str  # logical id
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def greedy(self) -> bool:
        return "+}" in self.path

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def _compile(path: str) -> re.Pattern[str]:
    out = []
    for segment in path.strip("/").split("/"):
        m = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
        if m and m.group(2):
            out.append(f"(?P<{m.group(1)}>.+)")
        elif m:
            out.append(f"(?P<{m.group(1)}>[^/]+)")
        else:
            out.append(re.escape(segment))
    return re.compile("/" + "/".join(out))


def http_routes(translated: Translated) -> list[Route]:
    """Every `HttpApi` event of every function, most specific first (API Gateway prefers routes
    without variables, then with fewer greedy variables, then longer paths)."""
    routes = []
    for logical_id, res in translated.sam.get("Resources", {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        events: dict[str, Any] = (res.get("Properties") or {}).get("Events") or {}
        for event in events.values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            method = str(props.get("Method", "ANY")).upper()
            path = props.get("Path", "$default")
            method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
            routes.append(Route(method, path, logical_id, _compile(path if path != "$default" else "/{p+}")))
    routes.sort(
        key=lambda r: (r.path == "$default", r.greedy, -r.path.count("/"), "{" in r.path, r.method == "ANY")
    )
    return routes


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None
