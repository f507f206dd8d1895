"""`python -m devstack.openapi [template.yaml]`: print the API's OpenAPI document, as served by
the local stack at /openapi.json, built from the functions the template routes HTTP requests to."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from devstack.functions import FunctionError, FunctionPool, function_environment
from devstack.logs import LogSink
from devstack.provision import provision
from devstack.routes import http_routes
from devstack.server import merge_openapi
from devstack.template import load


def build(template: Path) -> dict[str, Any]:
    translated = load(template)
    with mock_aws():
        stack = provision(translated, session=boto3.Session(region_name="us-east-1"))
    log = LogSink(stream=sys.stderr)
    docs = []
    for logical_id in sorted({r.function for r in http_routes(translated)}):
        spec = stack.functions[logical_id]
        pool = FunctionPool(
            spec, function_environment(spec, "us-east-1", "http://127.0.0.1:9"), log.function_output, 1
        )
        try:
            docs.append(json.loads(pool.call("app.get_openapi_json_schema")))
        except FunctionError as exc:
            # A function without a Powertools resolver named `app` (HavenFunction: Haven's routes
            # are documented in the README, not in this API's OpenAPI document), as the local
            # stack's /openapi.json skips it. Any other failure is an error.
            if "has no attribute 'app'" not in str(exc):
                raise
        finally:
            pool.close()
    return merge_openapi(docs, translated)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
    print(json.dumps(build(path), indent=2))
