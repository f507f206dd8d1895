"""StatusFunction: reads jobs (`GET …/{action}/status?job_id=…`) and lists a tenant's jobs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.http.gate import gate
from asyncjobs.http.v2 import jobs
from asyncjobs.observability import logger

app = jobs.status_app()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return gate(event) or app.resolve(event, context)
