"""Test set-up: fake credentials and moto before any boto3 client exists, then a stack built from
template.yaml (never a hand-kept copy of it) for every test that needs AWS."""

from __future__ import annotations

import os

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_DEV="false",
)

import moto
import pytest
import requests

from devstack import template
from tests.e2e.client import Api, LocalStackProcess
from tests.e2e.openapi_coverage import answered, undocumented
from tests.support import ROOT, Harness

assert moto


@pytest.fixture(scope="session")
def translated() -> template.Translated:
    return template.load(ROOT / "template.yaml")


@pytest.fixture
def harness(translated, monkeypatch):
    with Harness.start(translated, monkeypatch) as h:
        yield h


@pytest.fixture
def log_lines():
    """The JSON log lines the functions write, as Lambda would ship them to CloudWatch."""
    import io
    import json

    from asyncjobs.observability import logger

    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    finally:
        logger.registered_handler.setStream(previous)


# -- the local stack, over HTTP: one per session, shared by tests/e2e/ and tests/client/ ---------
# End-to-end tests run against a deployed stack instead when E2E_BASE_URL is set (see
# tests/e2e/conftest.py).


@pytest.fixture(scope="session")
def api(tmp_path_factory):
    base = os.environ.get("E2E_BASE_URL")
    if base:
        yield Api(base.rstrip("/"), None, os.environ["E2E_TENANT"], os.environ["E2E_API_KEY"])
        return
    # Webhook retries at 1/100 of real time: the 5 s retry comes after a second, not five.
    with LocalStackProcess(
        ROOT / "template.yaml",
        tmp_path_factory.mktemp("stack"),
        retry_after=1,
        params={"WebhookTimeScale": "0.01"},
    ) as stack:
        yield Api(stack.base_url, stack, "e2e", stack.create_key("e2e"))
        # Every status an operation answered over the session is one the document lists for it.
        doc = requests.get(f"{stack.base_url}/openapi.json", timeout=30).json()
        assert undocumented(doc, answered(stack.log())) == {}, "statuses the OpenAPI document omits"
    assert stack.returncode == 0, "Ctrl-C did not stop the local stack cleanly"


@pytest.fixture(scope="session")
def local(api):
    """The local stack process (tests of the local stack itself need it, not a deployed one)."""
    if api.stack is None:
        pytest.skip("checks the local stack itself; E2E_BASE_URL points at a deployed stack")
    return api.stack
