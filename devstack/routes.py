"""HTTP API routes as the template declares them, matched the way API Gateway matches them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devstack.template import Translated


@dataclass(frozen=True)
class Authorizer:
    """A Lambda authorizer of an HTTP API, as the template's `Auth` declares it."""

    name: str
    function: str  # logical id
    headers: tuple[str, ...]
    query_strings: tuple[str, ...]
    ttl: int
    simple_responses: bool


@dataclass(frozen=True)
class Route:
    method: str  # "ANY" matches every method
    path: str
    function: str  # logical id
    pattern: re.Pattern[str]
    authorizer: Authorizer | None = None

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


def _logical_id(value: Any) -> str | None:
    """`!Ref X` / `!GetAtt X.Arn` → X."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def _authorizers(translated: Translated) -> dict[str, tuple[str | None, dict[str, Authorizer]]]:
    """For each HttpApi resource: (default authorizer name, authorizers by name)."""
    apis: dict[str, tuple[str | None, dict[str, Authorizer]]] = {}
    for logical_id, res in translated.sam.get("Resources", {}).items():
        if res.get("Type") != "AWS::Serverless::HttpApi":
            continue
        auth = (res.get("Properties") or {}).get("Auth") or {}
        found = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            function = _logical_id(spec.get("FunctionArn"))
            if function is None:  # a JWT authorizer, or a function outside the template: its
                continue  # routes are served without authorization (devstack.unsupported says so)
            identity = spec.get("Identity") or {}
            found[name] = Authorizer(
                name=name,
                function=function,
                headers=tuple(identity.get("Headers") or ()),
                query_strings=tuple(identity.get("QueryStrings") or ()),
                ttl=int(identity.get("ReauthorizeEvery", 300)),
                simple_responses=bool(spec.get("EnableSimpleResponses", False)),
            )
        apis[logical_id] = (auth.get("DefaultAuthorizer"), found)
    return apis


def http_routes(translated: Translated) -> list[Route]:
    """Every `HttpApi` event of every function, most specific first (API Gateway prefers routes
    without variables, then with fewer greedy variables, then longer paths)."""
    routes = []
    apis = _authorizers(translated)
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
            default, authorizers = apis.get(_logical_id(props.get("ApiId")) or "", (None, {}))
            name = (props.get("Auth") or {}).get("Authorizer", default)
            authorizer = None if name in (None, "NONE") else authorizers.get(name)
            pattern = _compile(path if path != "$default" else "/{p+}")
            routes.append(Route(method, path, logical_id, pattern, authorizer))
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
