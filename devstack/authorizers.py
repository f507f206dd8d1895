"""HTTP API Lambda authorizers (payload 2.0, simple responses), as API Gateway runs them: identity
sources checked first (missing → 401), the function's answer cached per identity for the
authorizer's TTL, `isAuthorized: false` → 403, an authorizer failure → 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.provision import ACCOUNT
from devstack.routes import Route

Invoke = Callable[[str, dict[str, Any]], tuple[bool, Any]]
"""(function logical id, event) → (succeeded, result)."""


@dataclass(frozen=True)
class Denied:
    status: int
    message: str


class Authorizers:
    def __init__(self, invoke: Invoke, region: str = "us-east-1") -> None:
        self._invoke = invoke
        self._region = region
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def authorize(self, route: Route, event: dict[str, Any]) -> Denied | None:
        """Adds `requestContext.authorizer.lambda` to the event, or says how the gateway refuses."""
        auth = route.authorizer
        if auth is None:
            return None
        if not auth.simple_responses:
            raise ValueError(f"authorizer {auth.name}: only simple responses are supported locally")
        headers = event.get("headers") or {}
        query = event.get("queryStringParameters") or {}
        values = [headers.get(h.lower(), "") for h in auth.headers] + [
            query.get(q, "") for q in auth.query_strings
        ]
        if not values or any(not v for v in values):
            return Denied(401, "Unauthorized")
        key = (auth.name, tuple(values))
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            context = cached[1]
        else:
            ok, result = self._invoke(auth.function, self._event(route, event, values))
            if not ok or not isinstance(result, dict):
                return Denied(500, "Internal Server Error")
            context = (result.get("context") or {}) if result.get("isAuthorized") is True else None
            if auth.ttl > 0:
                with self._lock:
                    self._cache[key] = (now + auth.ttl, context)
        if context is None:
            return Denied(403, "Forbidden")
        event["requestContext"]["authorizer"] = {"lambda": context}
        return None

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _event(self, route: Route, event: dict[str, Any], values: list[str]) -> dict[str, Any]:
        ctx = event["requestContext"]
        arn = (
            f"arn:aws:execute-api:{self._region}:{ACCOUNT}:{ctx['apiId']}/{ctx['stage']}/"
            f"{ctx['http']['method']}{ctx['http']['path']}"
        )
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": values,
            "routeKey": event["routeKey"],
            "rawPath": event["rawPath"],
            "rawQueryString": event["rawQueryString"],
            "headers": event.get("headers", {}),
            "queryStringParameters": event.get("queryStringParameters", {}),
            "requestContext": ctx,
            "pathParameters": event.get("pathParameters", {}),
        }
