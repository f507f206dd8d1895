"""`GET /openapi.json` on a deployed stack: StatusFunction answers it from the document the layer
ships (`make openapi`; docs/openapi.json links to it), public, with `servers` set to the URL the
request came to. (The local stack serves its own, built live from the code: tests/e2e/test_openapi.py
checks that one is the committed document too, so both are equal apart from `servers`.)"""

from __future__ import annotations

import json
import os

import pytest

from asyncjobs.http import openapi_document
from devstack.lambda_runtime import LambdaContext
from tests.support import ROOT, load_event, run_in_function

API = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"


def _committed() -> dict:
    return json.loads((ROOT / "docs" / "openapi.json").read_text())


def _invoke(harness, event):
    fn = harness.stack.functions["StatusFunction"]
    return harness.handlers["StatusFunction"](event, LambdaContext(fn.name, fn.memory, fn.timeout))


def test_docs_openapi_json_is_the_document_the_layer_ships():
    # One source of truth: docs/openapi.json is a link to the layer's copy, which `make openapi` writes
    docs = ROOT / "docs" / "openapi.json"
    assert docs.is_symlink()
    assert docs.resolve() == (ROOT / "layers" / "jobs" / "asyncjobs" / "openapi.json").resolve()
    assert os.path.samefile(openapi_document.PATH, docs)


def test_the_sample_request_gets_the_document_without_a_key(harness):
    # Given the sample request (no Authorization, no authorizer context)
    event = load_event("status_openapi.json")
    assert "authorization" not in event["headers"] and "authorizer" not in event["requestContext"]

    # When StatusFunction answers it
    answer = _invoke(harness, event)

    # Then it is the committed document, with the API's own URL as its server, cacheable
    assert answer["statusCode"] == 200
    assert answer["headers"] == {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}
    doc = json.loads(answer["body"])
    committed = _committed()
    assert "servers" not in committed
    assert {k: v for k, v in doc.items() if k != "servers"} == committed
    assert doc["servers"] == [{"url": API}]


def test_routed_as_api_gateway_routes_it_without_the_authorizer(harness):
    # Given the route in the template (Authorizer: NONE), when requested with no key or a bad one,
    # then no authorizer is consulted and StatusFunction answers with the document
    for key in (None, "ajk_not_a_key"):
        reply = harness.request("GET", "/openapi.json", key=key, headers={"host": "api.example.com"})
        assert reply.status == 200, reply.body
        assert reply.body["paths"] == _committed()["paths"]


@pytest.mark.parametrize(
    ("stage", "raw_path", "domain", "expected"),
    [
        ("$default", "/openapi.json", "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", API),
        # a named stage on the execute-api domain is in the path, and in the base URL
        ("prod", "/prod/openapi.json", "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", f"{API}/prod"),
        # a custom domain mapped to the stage: the stage is not in the path, nor in the URL
        ("prod", "/openapi.json", "jobs.example.com", "https://jobs.example.com"),
    ],
)
def test_servers_is_the_base_url_the_request_came_to(harness, stage, raw_path, domain, expected):
    event = load_event("status_openapi.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    event["requestContext"]["stage"] = stage
    event["requestContext"]["domainName"] = event["headers"]["host"] = domain
    answer = _invoke(harness, event)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["servers"] == [{"url": expected}]


def test_the_document_is_read_on_the_first_request_only(harness, monkeypatch):
    # Given a function that has answered once
    event = load_event("status_openapi.json")
    first = _invoke(harness, event)
    # when the file is gone, then the next answer is the same (the module keeps it)
    monkeypatch.setattr(openapi_document, "PATH", str(ROOT / "no-such-openapi.json"))
    assert _invoke(harness, event) == first


def test_importing_the_handler_reads_nothing():
    # A cold start that serves another route never reads or parses the document
    probe = (
        "import app, sys; from asyncjobs.http import openapi_document as d; "
        "print(d._head is None, 'pydantic' in sys.modules)"
    )
    assert run_in_function("status", probe).split() == ["True", "False"]
