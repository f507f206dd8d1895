"""`python -m devstack.openapi [template.yaml]`: print the API's OpenAPI document, as served by
the local stack at /openapi.json, built from the functions the template routes HTTP requests to:
each describes its own routes (`openapi_of`)."""

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

# Where an HTTP function's module describes its routes: the router named `app` (run, status,
# webhooks), or HavenFunction's `api`, which routes by hand and describes its routes itself.
OPENAPI_ATTRIBUTES = ("app.get_openapi_json_schema", "api.get_openapi_json_schema")


def openapi_of(pool: FunctionPool) -> dict[str, Any] | None:
    """A function's OpenAPI document; None for a function that describes no routes (one added to
    a copy of the template, say). Any other failure is an error."""
    for attribute in OPENAPI_ATTRIBUTES:
        try:
            found: dict[str, Any] = json.loads(pool.call(attribute))
            return found
        except FunctionError as exc:
            if f"has no attribute '{attribute.split('.')[0]}'" not in str(exc):
                raise
    return None


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
            doc = openapi_of(pool)
        finally:
            pool.close()
        if doc is not None:
            docs.append(doc)
    return merge_openapi(docs, translated)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
    print(json.dumps(build(path), indent=2))
