"""Fuzzing: schemathesis generates requests from the served OpenAPI document and sends them over
HTTP to a local stack of their own. No request may cause a 5xx, and every response (errors
included) must match the schema the document gives it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.e2e.client import LocalStackProcess
from tests.support import ROOT

schema = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    if __import__("os").environ.get("E2E_BASE_URL"):
        pytest.skip("fuzzing runs against a local stack of its own")
    with LocalStackProcess(ROOT / "template.yaml", tmp_path_factory.mktemp("fuzz"), retry_after=1) as stack:
        stack.key = stack.create_key("fuzz")
        yield stack
    assert stack.returncode == 0


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_stack):
    return schemathesis.openapi.from_url(f"{fuzz_stack.base_url}/openapi.json")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_errors_match_the_documented_schema(case, fuzz_stack):
    # The caller's own tenant (another tenant's path is a 403, tested elsewhere), and receivers on
    # loopback: a generated host name would send the SSRF check to DNS.
    if "tenant_id" in (case.path_parameters or {}):
        case.path_parameters["tenant_id"] = "fuzz"
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = "http://127.0.0.1:9/hook"
    case.call_and_validate(
        base_url=fuzz_stack.base_url,
        headers={"Authorization": f"Bearer {fuzz_stack.key}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
