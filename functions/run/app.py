"""RunFunction: starts jobs (`POST …/{action}/run`) and cancels them."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.http import idempotency
from asyncjobs.http.gate import gate
from asyncjobs.http.v2 import jobs
from asyncjobs.observability import logger, metrics

app = jobs.run_app()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_context(context)
    return gate(event) or app.resolve(event, context)
