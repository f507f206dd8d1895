"""The README's request examples work as written against `make local` (the demo tenant and its
key, which the local stack creates and prints)."""

from __future__ import annotations

import re

from tests.support import ROOT


def test_every_curl_example_in_the_readme_uses_the_local_stacks_demo_tenant():
    # Given the README's curl commands against $API, run with the key `make local` prints (a key of
    # the tenant `demo`)
    found = re.findall(r'curl[^\n]*"\$API/v2/tenants/([^/"]+)/([^"\s]*)"', (ROOT / "README.md").read_text())
    assert found, "no curl examples found"
    # Then each names that tenant: the design actions' example (irradiance) names `acme`, so as
    # written it answers 403 "This API key does not belong to the tenant in the path."
    assert {(tenant, path) for tenant, path in found if tenant != "demo"} == set()
