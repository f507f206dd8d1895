"""RunFunction: starts jobs (`POST …/{action}/run`) and cancels them."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs import jobs
from asyncjobs.actions import ACTIONS, Action
from asyncjobs.observability import logger, metrics
from asyncjobs.services import get_services
from asyncjobs.web import BODY, TENANT_ID_PATTERN, action_route, json_response, new_app, resolver_path

app = new_app()


def _run(action: Action, tenant_id: str, path_params: dict[str, str], body: Any) -> Response[str]:
    svc = get_services()
    job = jobs.submit(svc, tenant_id, action, path_params, body)
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    location = f"{app.current_event.path.removesuffix('/run')}/status?job_id={job.job_id}"
    return json_response(
        202,
        {"job_id": job.job_id, "status": job.status.value, "status_url": location},
        headers={"Location": location, "Retry-After": str(svc.settings.poll_after_s)},
    )


for _action in ACTIONS.values():
    app.post(
        resolver_path(_action.run_path),
        summary=_action.summary,
        description=_action.description,
        responses={
            202: {"description": "Accepted: poll the `Location` URL for the job's status."},
            422: {"description": "The inputs are malformed; the message names each field to fix."},
        },
        tags=["actions"],
    )(action_route(_action, _run, [("body", Annotated[_action.input_model, BODY])], "run"))


@app.post(
    "/v2/tenants/<tenant_id>/jobs/<job_id>/cancel",
    summary="Cancel a job",
    responses={
        200: {"description": "The job was queued and is now cancelled; it will never run."},
        202: {"description": "The job is running; it stops at its next progress report."},
        409: {"description": "The job has already ended."},
    },
    tags=["jobs"],
)
def cancel(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)], job_id: str) -> Response[str]:
    job = jobs.cancel(get_services(), tenant_id, job_id)
    return json_response(200 if job.status.terminal else 202, job.to_public())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
