"""The router of the HTTP API functions (run, status, webhooks): method and path matching, the
parameters each route declares (`http.params`) read from the path, query, headers and JSON body
and validated with pydantic, and the answer as an API Gateway HTTP API (payload 2.0) result.

Why not Powertools' `APIGatewayHttpResolver`, which these functions used before: a cold start
with the first event must stay within 1.25x of the floor (`import boto3` + the clients the event
needs, ~210 ms here), and the resolver alone took a fifth of that. Measured on 2026-11-26 (2
shared cores, Python 3.13, precompiled bytecode): importing `aws_lambda_powertools.event_handler`
costs ~35-40 ms (its package `__init__` imports every resolver, the event data classes and
asyncio, ~230 modules), of a budget of ~52 ms above the floor for import and first request
together; StatusFunction was at 1.8x. Powertools still builds the OpenAPI document, offline, from
the same route declarations (`get_openapi_json_schema`, `http.openapi.powertools_app`), and
`tests/unit/test_router.py` checks that both answer every request alike.

What it reproduces of Powertools' resolver, so that answers stay the same: the path syntax
(`/a/<b>`, a segment of the same characters), static routes tried before dynamic ones, 404 for
an unknown path or method, query values as API Gateway joins them (a repeated name is a list,
which a scalar refuses), header names with underscores as dashes, a body read as JSON unless its
Content-Type says otherwise (a form body is read as a form, any other type is refused), and the
same validation errors (`loc` = (where, name, ...), pydantic's `msg` and `type`). Differences: an empty
body sent as multipart/form-data without a boundary is a 415 (Powertools answered 500), and a
non-empty multipart body is not parsed (unreachable: the handlers' gate refuses, 415, every
non-empty body that is not JSON)."""

from __future__ import annotations

import base64
import inspect
import json
import re
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin
from urllib.parse import parse_qs

from asyncjobs.http.params import Param

# Powertools' pattern for a `<name>` segment (`event_handler.api_gateway`), so both route alike.
_SAFE_URI = "-._~()'!*:@,;=+&$"
_UNSAFE_URI = r"%<> \[\]{}|^"
_DYNAMIC = re.compile(r"(<\w+>)")
_SEGMENT = rf"(?P\1[{_SAFE_URI}{_UNSAFE_URI}\\w]+)"
_WHERE_ORDER = {"path": 0, "query": 1, "header": 2, "body": 3}
_MISSING = object()


class RequestValidationError(Exception):
    """A request that fails validation; `errors()` lists them as pydantic does (`type`, `loc`,
    `msg`). Routes raise it too, for checks their annotations cannot express."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("the request is invalid")
        self._errors = list(errors)

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


class UnsupportedContentType(Exception):
    """A body whose Content-Type is neither JSON nor a form."""


@dataclass
class Response:
    """An answer, as Powertools' `Response` (Content-Type set from `content_type` unless given)."""

    status_code: int
    body: str = ""
    headers: dict[str, str] | None = None
    content_type: str | None = None

    def proxy_result(self) -> dict[str, Any]:
        headers = {k: v for k, v in (self.headers or {}).items() if v is not None}
        if self.content_type:
            headers.setdefault("Content-Type", self.content_type)
        return {
            "statusCode": self.status_code,
            "body": self.body,
            "isBase64Encoded": False,
            "headers": headers,
            "cookies": [],
        }


class Request:
    """The parts of a payload 2.0 event routing reads."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        context = event.get("requestContext") or {}
        self.method = str((context.get("http") or {}).get("method", "")).upper()
        path = event.get("rawPath") or ""
        stage = context.get("stage")
        # A named stage is part of the raw path (not on a custom domain); routes never include it.
        if stage and stage != "$default" and path.startswith(f"/{stage}/"):
            path = path[len(stage) + 1 :]
        self.path = path
        self.headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        self.query = event.get("queryStringParameters") or {}

    @property
    def body_text(self) -> str | None:
        body: str | None = self.event.get("body")
        if body and self.event.get("isBase64Encoded"):
            return base64.b64decode(body.encode()).decode()
        return body

    def repeated_query_names(self) -> set[str]:
        raw = self.event.get("rawQueryString") or ""
        return {k for k, v in parse_qs(raw, keep_blank_values=True).items() if len(v) > 1} if raw else set()


@dataclass
class _Field:
    """One parameter of a route: where it is read, under which name, and its type."""

    name: str
    param: Param
    annotation: Any
    default: Any

    @property
    def alias(self) -> str:
        return self.name.replace("_", "-") if self.param.where == "header" else self.name

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    @property
    def loc(self) -> tuple[str, ...]:
        return ("body",) if self.param.where == "body" else (self.param.where, self.alias)

    @property
    def is_sequence(self) -> bool:
        arms = get_args(self.annotation) if get_origin(self.annotation) in (typing.Union, _UnionType) else ()
        return any(
            get_origin(t) in (list, tuple, set) or t in (list, tuple, set) for t in (self.annotation, *arms)
        )

    def validate(self, value: Any) -> tuple[Any, list[dict[str, Any]]]:
        if _plainly_valid(self.annotation, self.param, value):
            return value, []  # what pydantic would return, without importing it (see _plainly_valid)
        from pydantic import ValidationError

        try:
            return _adapter(self.annotation, self.param).validate_python(value, from_attributes=True), []
        except ValidationError as exc:
            return None, [{**e, "loc": self.loc + tuple(e.get("loc", ()))} for e in exc.errors()]


_UnionType = type(int | None)
_STRINGS = (str, str | None)
_STRING_CHECKS = {"pattern", "max_length", "min_length"}
_patterns: dict[str, re.Pattern[str]] = {}


def _plainly_valid(annotation: Any, param: Param, value: Any) -> bool:
    """Whether a string parameter certainly passes its checks, decided without pydantic: a GET's
    parameters (ids in the path and query) are only strings with a pattern and a length, and
    importing pydantic costs ~65 ms of a cold start. Only what is certain passes: an ASCII value
    without a line break (where Python's `re` and pydantic's Rust regex agree on `^`/`$`),
    checked like pydantic (the pattern searched, lengths in characters). Anything else, and every
    failure, goes to pydantic, whose answer (and error message) stands."""
    if annotation not in _STRINGS or type(value) is not str or not value.isascii() or "\n" in value:
        return False
    checks = param.constraints
    if not checks.keys() <= _STRING_CHECKS:
        return False
    if len(value) > checks.get("max_length", len(value)) or len(value) < checks.get("min_length", 0):
        return False
    pattern = checks.get("pattern")
    if pattern is None:
        return True
    compiled = _patterns.get(pattern)
    if compiled is None:
        compiled = _patterns[pattern] = re.compile(pattern)
    return compiled.search(value) is not None


_adapters: dict[tuple[Any, Param], Any] = {}


def _adapter(annotation: Any, param: Param) -> Any:
    """pydantic's validator for a type and its constraints, built once per process: the type and
    constraints Powertools validated with, so values and error messages are the same."""
    key = (annotation, param)
    found = _adapters.get(key)
    if found is None:
        from pydantic import Field, TypeAdapter

        found = _adapters[key] = TypeAdapter(Annotated[annotation, Field(**param.constraints)])
    return found


def route_fields(func: Callable[..., Any]) -> list[_Field]:
    """The parameters `func` declares (`Annotated[T, Path(...)]` and the like), in the order
    Powertools validates them: path, query, headers, body, each in signature order."""
    signature = inspect.signature(func)
    holder: Any = lambda: None  # noqa: E731 (a bare object carrying the annotations to resolve)
    holder.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    hints = typing.get_type_hints(
        holder, globalns=getattr(inspect.unwrap(func), "__globals__", {}), include_extras=True
    )
    fields = []
    for p in signature.parameters.values():
        hint = hints[p.name]
        args = get_args(hint) if get_origin(hint) is Annotated else ()
        params = [m for m in args[1:] if isinstance(m, Param)]
        if len(params) != 1:
            raise TypeError(f"{func.__name__}: parameter {p.name!r} needs one Path, Query, Header or Body")
        default = _MISSING if p.default is inspect.Parameter.empty else p.default
        fields.append(_Field(p.name, params[0], args[0], default))
    if sum(f.param.where == "body" for f in fields) > 1:
        raise TypeError(f"{func.__name__}: one Body parameter at most")
    return sorted(fields, key=lambda f: _WHERE_ORDER[f.param.where])


@dataclass
class Route:
    method: str
    path: str
    func: Callable[..., Any]
    doc: dict[str, Any]
    regex: re.Pattern[str] = field(init=False)
    _fields: list[_Field] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(f"^{_DYNAMIC.sub(_SEGMENT, self.path)}$")

    @property
    def fields(self) -> list[_Field]:
        if self._fields is None:  # on first use: a function builds only the routes it serves
            self._fields = route_fields(self.func)
        return self._fields


class Router:
    """Routes registered with `get`, `post`, `patch`, `delete` (same arguments as Powertools'),
    answered by `resolve(event, context)`."""

    def __init__(
        self,
        *,
        on_error: Callable[[Exception, Request], Response],
        on_not_found: Callable[[Request], Response],
        json_loads: Callable[[str], Any] = json.loads,
    ) -> None:
        self.routes: list[Route] = []
        self._on_error = on_error
        self._on_not_found = on_not_found
        self._json_loads = json_loads
        self._local = threading.local()  # the local stack serves requests on several threads

    # -- declaring -------------------------------------------------------------------------
    def route(self, rule: str, method: str, **doc: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(Route(method.upper(), rule, func, doc))
            return func

        return register

    def get(self, rule: str, **doc: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "GET", **doc)

    def post(self, rule: str, **doc: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "POST", **doc)

    def patch(self, rule: str, **doc: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "PATCH", **doc)

    def delete(self, rule: str, **doc: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, "DELETE", **doc)

    def get_openapi_json_schema(self, **kwargs: Any) -> str:
        """The OpenAPI document of these routes, built by Powertools (offline only)."""
        from asyncjobs.http.openapi import powertools_app

        return powertools_app(self).get_openapi_json_schema(**kwargs)

    # -- the request being answered --------------------------------------------------------
    @property
    def current_event(self) -> Request:
        request: Request = self._local.request
        return request

    @property
    def lambda_context(self) -> Any:
        return getattr(self._local, "context", None)

    # -- answering -------------------------------------------------------------------------
    def bind(self, event: dict[str, Any], context: Any) -> Request:
        """Makes `event` the request being answered (on this thread), for the routes to read."""
        request = Request(event)
        self._local.request, self._local.context = request, context
        return request

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = self.bind(event, context)
        try:
            response = self._dispatch(request)
        except Exception as exc:
            response = self._on_error(exc, request)
        return response.proxy_result()

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        static = [r for r in self.routes if "<" not in r.path]
        dynamic = [r for r in self.routes if "<" in r.path]
        for route in static + dynamic:
            if route.method == method and (found := route.regex.match(path)):
                return route, found.groupdict()
        return None

    def _dispatch(self, request: Request) -> Response:
        matched = self.match(request.method, request.path)
        if matched is None:
            return self._on_not_found(request)
        route, path_args = matched
        values, errors = self._read(route, request, path_args)
        if errors:
            raise RequestValidationError(errors)
        response: Response = route.func(**values)
        return response

    def _read(
        self, route: Route, request: Request, path_args: dict[str, str]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        repeated: set[str] | None = None
        for f in route.fields:
            where = f.param.where
            if where == "path":
                raw = path_args.get(f.alias)
            elif where == "query":
                raw = request.query.get(f.alias)
                if raw is not None and "," in raw:
                    repeated = request.repeated_query_names() if repeated is None else repeated
                    if f.alias in repeated:  # `?a=1&a=2`, which API Gateway joins as "1,2"
                        raw = raw.split(",")
            elif where == "header":
                raw = request.headers.get(f.alias.lower())
            else:
                raw = self._body(request)
                if isinstance(raw, list) and raw and not f.is_sequence:
                    raw = raw[0]  # as Powertools: a list given for one value gives its first item
            if raw is None:
                if f.required:
                    errors.append({"type": "missing", "loc": f.loc, "msg": "Field required", "input": None})
                else:
                    values[f.name] = f.default
                continue
            value, problems = f.validate(raw)
            errors += problems
            values[f.name] = value
        return values, errors

    def _body(self, request: Request) -> Any:
        content_type = str(request.headers.get("content-type", "")).strip()
        text = request.body_text
        if not content_type or content_type.startswith("application/json"):
            if not text:
                return None
            try:
                return self._json_loads(text)
            except json.JSONDecodeError as exc:
                error = {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
                raise RequestValidationError([error]) from exc
        if content_type.startswith("application/x-www-form-urlencoded"):
            return parse_qs(text or "", keep_blank_values=True)
        if content_type.startswith("multipart/form-data") and not text and "boundary=" in content_type:
            return {}  # an empty form; the gate refuses every non-empty body that is not JSON
        raise UnsupportedContentType(content_type)
