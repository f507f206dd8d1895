"""The HTTP API functions' router: routing, parameters, validation errors, and the same answers as
Powertools' resolver built from the same routes (the resolver the functions used before, which
still builds the OpenAPI document)."""

from __future__ import annotations

import base64
import json
from pathlib import Path as FsPath
from typing import Annotated, Any

import pytest

from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.openapi import powertools_app
from asyncjobs.http.params import Body, Header, Path, Query
from asyncjobs.http.router import Router
from asyncjobs.http.routes import resolver_path
from asyncjobs.http.v2 import bodies, jobs
from asyncjobs.http.v2.webhooks import app as webhooks_app

ROOT = FsPath(__file__).resolve().parents[2]


def _event(
    method: str,
    path: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    params: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        params[name] = f"{params[name]},{value}" if name in params else value  # as API Gateway joins
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {"http": {"method": method, "path": path}, "stage": "$default"},
        "isBase64Encoded": base64_body,
    }
    if params:
        event["queryStringParameters"] = params
    if body is not None:
        event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
    return event


def _body(reply: dict[str, Any]) -> Any:
    return json.loads(reply["body"])


@pytest.fixture
def app() -> Router:
    app = new_app()

    @app.get("/things")
    def all_things(
        limit: Annotated[int, Query(ge=1, le=10)] = 5,
        tag: Annotated[str | None, Query(max_length=3)] = None,
    ) -> Any:
        return json_response(200, {"route": "all", "limit": limit, "tag": tag})

    @app.get("/things/mine")
    def mine() -> Any:
        return json_response(200, {"route": "mine"})

    @app.get("/things/<thing_id>")
    def one_thing(
        thing_id: Annotated[str, Path(pattern=r"^t[0-9]+$")],
        request_tag: Annotated[str | None, Header(max_length=5)] = None,
    ) -> Any:
        return json_response(200, {"route": "one", "thing_id": thing_id, "tag": request_tag})

    @app.post("/things/<thing_id>")
    def update(
        thing_id: Annotated[str, Path()], body: Annotated[bodies.ActionSpec, Body(embed=False)]
    ) -> Any:
        return json_response(200, {"route": "update", "name": body.name})

    return app


def test_static_routes_win_over_dynamic_ones_whatever_the_order(app):
    # Given /things/<thing_id> declared after /things/mine (and a static route never shadowed)
    # When /things/mine is asked, then the static route answers; any other id goes to the dynamic one
    assert _body(app.resolve(_event("GET", "/things/mine"), None))["route"] == "mine"
    assert _body(app.resolve(_event("GET", "/things/t1"), None)) == {
        "route": "one",
        "thing_id": "t1",
        "tag": None,
    }


def test_unknown_path_or_method_is_a_404_naming_both(app):
    for method, path in [("GET", "/nothing"), ("DELETE", "/things/t1"), ("GET", "/things/t1/more")]:
        reply = app.resolve(_event(method, path), None)
        assert reply["statusCode"] == 404
        assert _body(reply)["error"] == {
            "code": "route_not_found",
            "message": f"No route {method} {path}: check the action name and path.",
        }


def test_query_values_are_converted_and_defaults_apply(app):
    assert _body(app.resolve(_event("GET", "/things"), None)) == {"route": "all", "limit": 5, "tag": None}
    assert _body(app.resolve(_event("GET", "/things", "limit=7&tag=ab"), None))["limit"] == 7


def test_headers_are_read_under_the_parameter_name_with_dashes_whatever_their_case(app):
    reply = app.resolve(_event("GET", "/things/t1", headers={"Request-Tag": "abc"}), None)
    assert _body(reply)["tag"] == "abc"


def test_invalid_parameters_are_one_422_listing_each(app):
    # Given a bad path id, a limit out of range and a header too long
    reply = app.resolve(_event("GET", "/things/x9", "limit=99", {"request-tag": "toolong"}), None)
    # Then one 422 names the path parameter and the header (limit is not a parameter of this route)
    assert reply["statusCode"] == 422
    details = _body(reply)["error"]["details"]
    assert [(d["location"], d["field"]) for d in details] == [("path", "thing_id"), ("header", "request-tag")]
    reply = app.resolve(_event("GET", "/things", "limit=0&tag=abcd"), None)
    assert [d["field"] for d in _body(reply)["error"]["details"]] == ["limit", "tag"]


def test_a_repeated_query_parameter_is_refused_for_a_single_value(app):
    reply = app.resolve(_event("GET", "/things", "tag=a&tag=b"), None)
    assert reply["statusCode"] == 422
    assert _body(reply)["error"]["details"][0]["field"] == "tag"
    # while a comma inside one value stays one value
    assert _body(app.resolve(_event("GET", "/things", "tag=a,b"), None))["tag"] == "a,b"


def test_body_missing_malformed_or_not_json(app):
    missing = app.resolve(_event("POST", "/things/t1"), None)
    assert missing["statusCode"] == 422
    assert _body(missing)["error"]["details"] == [
        {"field": "body", "location": "body", "message": "is required", "type": "missing"}
    ]
    assert app.resolve(_event("POST", "/things/t1", body="{"), None)["statusCode"] == 400
    other = _event("POST", "/things/t1", headers={"content-type": "text/plain"}, body="hi")
    assert app.resolve(other, None)["statusCode"] == 415
    ok = app.resolve(_event("POST", "/things/t1", body='{"name": "diagnostic"}', base64_body=True), None)
    assert _body(ok) == {"route": "update", "name": "diagnostic"}


def test_a_route_without_a_parameter_marker_is_refused():
    app = new_app()

    @app.get("/bad")
    def bad(thing: str) -> Any:
        return json_response(200, {})

    # The declaration is read on first use: the answer is the 500 of an unexpected error
    assert app.resolve(_event("GET", "/bad"), None)["statusCode"] == 500


# -- the same answers as Powertools' resolver -------------------------------------------------

T = "/v2/tenants/acme"
JOB = "01234567-89ab-7def-8123-456789abcdef"
# Requests each answered before any AWS call: unknown routes, invalid parameters and bodies.
REQUESTS = [
    _event("GET", "/nowhere"),
    _event("PUT", f"{T}/diagnostic/run"),
    _event("POST", f"{T}/diagnostic/run", body='{"steps": "many", "extra": 1}'),
    _event("POST", f"{T}/diagnostic/run", body="[]"),
    _event("POST", f"{T}/diagnostic/run", body="{bad"),
    _event("POST", f"{T}/diagnostic/run", body="null"),
    _event("POST", f"{T}/diagnostic/run"),
    _event(
        "POST", f"{T}/diagnostic/run", headers={"content-type": "application/merge-patch+json"}, body="{}"
    ),
    _event("POST", f"{T}/diagnostic/run", headers={"idempotency-key": "k" * 300}, body='{"steps": 1}'),
    _event("POST", f"{T}/diagnostic/run", headers={"prefer": "x" * 201}, body='{"steps": 1}'),
    _event("POST", "/v2/tenants/bad tenant!/diagnostic/run", body="{}"),
    _event("POST", f"{T}/designs/bad id!/proposal_pdf/run", body="{}"),
    _event("POST", f"{T}/jobs", body='{"actions": []}'),
    _event("POST", f"{T}/jobs", headers={"content-type": "multipart/form-data; boundary=x"}),
    _event("POST", f"{T}/jobs", headers={"content-type": "application/x-www-form-urlencoded"}),
    _event("POST", f"{T}/jobs", body='{"actions": [{"name": "x", "params": 1}]}'),
    _event(
        "POST",
        f"{T}/jobs",
        body='{"actions": [{"name": "nope"}, {"name": "diagnostic", "path_params": {"a": "b"}}]}',
    ),
    _event("POST", f"{T}/jobs/not a job!/cancel"),
    _event("POST", f"{T}/files", body='{"size_bytes": -1, "content_type": "nope"}'),
    _event("GET", f"{T}/diagnostic/status"),
    _event("GET", f"{T}/diagnostic/status", "job_id=bad%20id"),
    _event("GET", f"{T}/diagnostic/status", f"job_id={JOB}&job_id={JOB}"),
    _event("GET", f"{T}/jobs", "limit=0&status=nope&cursor=" + "c" * 600),
    _event("GET", f"{T}/jobs/{'j' * 65}"),
    _event("GET", f"{T}/files/bad!"),
    _event("GET", f"{T}/webhooks/not-a-sub"),
    _event("POST", f"{T}/webhooks", body='{"url": 1, "events": ["job.nope"], "auth": {"type": "basic"}}'),
    _event(
        "POST", f"{T}/webhooks", body='{"url": "https://x", "events": ["job.failed"], "auth": {"type": "x"}}'
    ),
    _event("PATCH", f"{T}/webhooks/sub_{'0' * 32}", body='{"enabled": "maybe", "auth": {"type": "headers"}}'),
    _event("POST", f"{T}/webhooks/sub_{'0' * 32}/rotate-secret", body='{"overlap_seconds": -5}'),
    _event("POST", f"{T}/webhooks/sub_{'0' * 32}/recover", body='{"since": "yesterday"}'),
    _event("GET", f"{T}/webhooks/sub_{'0' * 32}/deliveries", "status=lost&limit=101&cursor=%20"),
    _event("GET", f"{T}/webhooks/sub_{'0' * 32}/deliveries/{'d' * 101}"),
    _event("DELETE", f"{T}/webhooks"),
]


def _routers() -> list[tuple[str, Router]]:
    return [("run", jobs.run_app()), ("status", jobs.status_app()), ("webhooks", webhooks_app)]


# (Powertools warns that a multipart body should be base64-encoded: the one here is empty.)
@pytest.mark.filterwarnings("ignore:Received multipart/form-data without base64 encoding")
@pytest.mark.parametrize(
    "event", REQUESTS, ids=lambda e: f"{e['requestContext']['http']['method']} {e['rawPath']}"
)
def test_router_answers_as_powertools_resolver_did(event):
    # Given each function's router, and Powertools' resolver built from the same routes
    for name, router in _routers():
        before = powertools_app(router).resolve(json.loads(json.dumps(event)), None)
        # When both answer the same request, then the answers are the same, byte for byte
        now = router.resolve(json.loads(json.dumps(event)), None)
        assert now == before, f"{name}: {now} != {before}"
        assert now["statusCode"] < 500, now  # every request above is refused before any AWS call


def test_every_route_the_openapi_document_lists_is_routed_by_a_function():
    # Given the committed OpenAPI document and the routes the HTTP functions serve
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    served = {(r.method, r.path) for _, router in _routers() for r in router.routes}
    listed = {
        (method.upper(), resolver_path(path))
        for path, operations in doc["paths"].items()
        for method in operations
        if not path.startswith("/1/")  # HavenFunction's, below
    }
    # Then each side lists exactly the other's routes
    assert listed == served
    # and each documented path, with sample values, reaches its own route
    for method, path in listed:
        sample = path.replace("<", "").replace(">", "")  # `<job_id>` -> `job_id`: any segment value
        found = [router.match(method, sample) for _, router in _routers()]
        assert [m[0].path for m in found if m] == [path], (method, path)


# -- string parameters checked without pydantic ----------------------------------------------

PATTERNS = [
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",  # tenant ids
    r"^[A-Za-z0-9-]{1,64}$",  # job id parameters
    r"^sub_[0-9a-f]{32}$",
]
VALUES = [
    "acme",
    "a",
    "-a",
    "a" * 64,
    "a" * 65,
    "a\n",
    "a b",
    "é",
    "",
    "sub_" + "0" * 32,
    JOB,
    "x\r",
    "ab\u0000",
]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("max_length", [None, 3, 64])
def test_strings_passed_without_pydantic_are_exactly_those_pydantic_accepts_unchanged(pattern, max_length):
    from pydantic import Field, TypeAdapter, ValidationError

    from asyncjobs.http.router import _plainly_valid

    options = {"pattern": pattern} | ({"max_length": max_length} if max_length else {})
    param = Query(**options)
    adapter = TypeAdapter(Annotated[str | None, Field(**options)])
    for value in VALUES:
        try:
            accepted = adapter.validate_python(value) == value
        except ValidationError:
            accepted = False
        # A value the shortcut passes is one pydantic accepts as is (never the other way round)
        if _plainly_valid(str | None, param, value):
            assert accepted, (pattern, max_length, value)
        # and it passes every plain ASCII line pydantic accepts
        elif accepted:
            assert not value.isascii() or "\n" in value, (pattern, max_length, value)


_NO_PYDANTIC_STATUS_READ = """
import sys
from asyncjobs.http.router import Request
from asyncjobs.http.v2 import jobs

app = jobs.status_app()
event = {
    "rawPath": "/v2/tenants/acme/diagnostic/status",
    "queryStringParameters": {"job_id": "%s"},
    "headers": {},
    "requestContext": {"http": {"method": "GET"}, "stage": "$default"},
}
request = Request(event)
route, args = app.match("GET", request.path)
values, errors = app._read(route, request, args)
assert errors == [] and values["job_id"] == "%s", (values, errors)
assert "pydantic" not in sys.modules, "a valid status request loaded pydantic"
print("ok")
"""


def test_a_valid_status_request_is_read_and_validated_without_pydantic():
    # Given a fresh interpreter (as a cold start), when the status route reads a valid request,
    # then its parameters are validated and pydantic is never imported
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _NO_PYDANTIC_STATUS_READ % (JOB, JOB)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "layers" / "jobs")},
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_every_haven_operation_the_openapi_document_lists_is_routed():
    # Given the Haven operations of the committed OpenAPI document (HavenFunction routes by hand)
    from asyncjobs.haven.api import _API, _JOB, _READ

    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    listed = {(m.upper(), p) for p, ops in doc["paths"].items() if p.startswith("/1/") for m in ops}
    # Then they are the routes and methods HavenApi serves, no more, no fewer
    assert listed == {
        ("GET", "/1/api/sync/{action}/{version}"),
        ("POST", "/1/api/sync/{action}/{version}"),
        ("GET", "/1/api/async/{action}/{version}"),
        ("POST", "/1/api/async/{action}/{version}"),
        ("POST", "/1/job"),
        ("GET", "/1/job/status/{jobID}"),
        ("GET", "/1/job/result/{jobID}"),
    }
    for _, path in listed:
        sample = path.replace("{action}", "highlight").replace("{version}", "v1").replace("{jobID}", "j-1")
        assert sum(bool(r.match(sample)) for r in (_API, _JOB, _READ)) == 1, path
