"""End-to-end tests: real HTTP against the local stack started from template.yaml, or against a
deployed stack when E2E_BASE_URL is set (the ApiUrl output of `sam deploy`), with E2E_TENANT and
E2E_API_KEY (from `python -m tools.admin --stack <name> create-key <tenant>`)."""

from __future__ import annotations

import os

import pytest
import requests

from tests.e2e.client import Api, LocalStackProcess
from tests.e2e.openapi_coverage import answered, undocumented
from tests.support import ROOT


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
