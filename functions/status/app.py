"""StatusFunction: reads jobs (`GET …/{action}/status?job_id=…`) and lists a tenant's jobs; also
serves the API's OpenAPI document (`GET /openapi.json`, public: no API key, so before the gate)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.http.gate import gate
from asyncjobs.http.openapi_document import ROUTE_KEY as OPENAPI_ROUTE
from asyncjobs.http.openapi_document import openapi_response
from asyncjobs.http.v2 import jobs
from asyncjobs.observability import logger

app = jobs.status_app()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("routeKey") == OPENAPI_ROUTE:
        return openapi_response(event)
    return gate(event) or app.resolve(event, context)
