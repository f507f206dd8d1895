"""RunFunction: starts jobs (`POST …/{action}/run`) and cancels them."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.actions.base import Action
from asyncjobs.actions.registry import ACTIONS
from asyncjobs.http import idempotency
from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.gate import gate
from asyncjobs.http.routes import BODY, TENANT_ID_PATTERN, action_route, resolver_path
from asyncjobs.jobs import use_cases
from asyncjobs.jobs.ids import JOB_ID_PARAM_PATTERN
from asyncjobs.observability import logger, metrics
from asyncjobs.services import get_services

app = new_app()
IDEMPOTENCY_KEY = Annotated[
    str | None,
    Header(
        description="Makes a retried run safe: the same key and body replay the first 202 (for 24 hours); "
        "the same key with another body is a 422; a retry while the first is in flight is a 409.",
        max_length=255,
    ),
]


def _accept(request: dict[str, Any]) -> dict[str, Any]:
    """Submits the job and returns the 202 document (what an Idempotency-Key replays)."""
    action = ACTIONS[request["action"]]
    inputs = action.input_model.model_validate(request["body"])
    job = use_cases.submit(get_services(), request["tenant"], action, request["path_params"], inputs)
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    location = f"{request['base_path']}/status?job_id={job.job_id}"
    return {"job_id": job.job_id, "status": job.status.value, "status_url": location}


def _run(
    action: Action, tenant_id: str, path_params: dict[str, str], body: Any, idempotency_key: str | None
) -> Response[str]:
    request = {
        "tenant": tenant_id,
        "action": action.name,
        "path_params": path_params,
        "body": body.model_dump(mode="json"),
        "base_path": app.current_event.path.removesuffix("/run"),
    }
    headers = {"Retry-After": str(get_services().settings.poll_after_s)}
    if idempotency_key is None:
        doc = _accept(request)
    else:
        doc = idempotency.accept_once(_accept, request, idempotency_key)
        if doc.pop(idempotency.REPLAYED, False):
            headers["Idempotent-Replayed"] = "true"
    return json_response(202, doc, headers={"Location": doc["status_url"], **headers})


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
    )(
        action_route(
            _action,
            _run,
            [("body", Annotated[_action.input_model, BODY]), ("idempotency_key", IDEMPOTENCY_KEY, None)],
            "run",
        )
    )


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
def cancel(
    tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
    job_id: Annotated[
        str, Path(pattern=JOB_ID_PARAM_PATTERN, max_length=64, description="From the run response.")
    ],
) -> Response[str]:
    job = use_cases.cancel(get_services(), tenant_id, job_id)
    return json_response(200 if job.status.terminal else 202, job.to_public())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_context(context)
    return gate(event) or app.resolve(event, context)
