"""The jobs API, v2: the routes of RunFunction (one run route per action, and cancel) and of
StatusFunction (one status route per action, and the list), with their request schemas."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from asyncjobs.actions.base import Action
from asyncjobs.actions.registry import ACTIONS
from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.routes import BODY, TENANT_ID_PATTERN, action_route, resolver_path
from asyncjobs.jobs import use_cases
from asyncjobs.jobs.ids import JOB_ID_PARAM_PATTERN
from asyncjobs.jobs.models import JobStatus
from asyncjobs.jobs.store import MAX_PAGE_SIZE
from asyncjobs.observability import logger, metrics
from asyncjobs.services import get_services

IDEMPOTENCY_KEY = Annotated[
    str | None,
    Header(
        description="Makes a retried run safe: the same key and body replay the first 202 (for 24 hours); "
        "the same key with another body is a 422; a retry while the first is in flight is a 409.",
        max_length=255,
    ),
]
JOB_ID_PATH = Annotated[
    str, Path(pattern=JOB_ID_PARAM_PATTERN, max_length=64, description="From the run response.")
]
JOB_ID_QUERY = Annotated[
    str, Query(pattern=JOB_ID_PARAM_PATTERN, max_length=64, description="From the run response.")
]
TENANT_ID = Annotated[str, Path(pattern=TENANT_ID_PATTERN)]
NOT_FOUND = "No such job for this tenant, action and resource, or it expired."


def run_app() -> APIGatewayHttpResolver:
    """RunFunction's resolver: `POST …/{action}/run` for every action, and cancel."""
    app = new_app()

    def run(
        action: Action, tenant_id: str, path_params: dict[str, str], body: Any, idempotency_key: str | None
    ) -> Response[str]:
        request = {
            "tenant": tenant_id,
            "action": action.name,
            "path_params": path_params,
            "body": body.model_dump(mode="json"),
            "base_path": app.current_event.path.removesuffix("/run"),
        }
        return _run(request, idempotency_key)

    for action in ACTIONS.values():
        app.post(
            resolver_path(action.run_path),
            summary=action.summary,
            description=action.description,
            responses={
                202: {"description": "Accepted: poll the `Location` URL for the job's status."},
                422: {"description": "The inputs are malformed; the message names each field to fix."},
            },
            tags=["actions"],
        )(
            action_route(
                action,
                run,
                [("body", Annotated[action.input_model, BODY]), ("idempotency_key", IDEMPOTENCY_KEY, None)],
                "run",
            )
        )
    app.post(
        "/v2/tenants/<tenant_id>/jobs/<job_id>/cancel",
        summary="Cancel a job",
        responses={
            200: {"description": "The job was queued and is now cancelled; it will never run."},
            202: {"description": "The job is running; it stops at its next progress report."},
            409: {"description": "The job has already ended."},
        },
        tags=["jobs"],
    )(cancel)
    from asyncjobs.http.v2 import files

    files.register_run_routes(app)
    return app


def _run(request: dict[str, Any], idempotency_key: str | None) -> Response[str]:
    # Imported here, not at the top: StatusFunction loads this module too and never needs it.
    from asyncjobs.http import idempotency

    headers = {"Retry-After": str(get_services().settings.poll_after_s)}
    if idempotency_key is None:
        doc = _accept(request)
    else:
        doc = idempotency.accept_once(_accept, request, idempotency_key)
        if doc.pop(idempotency.REPLAYED, False):
            headers["Idempotent-Replayed"] = "true"
    return json_response(202, doc, headers={"Location": doc["status_url"], **headers})


def _accept(request: dict[str, Any]) -> dict[str, Any]:
    """Submits the job and returns the 202 document (what an Idempotency-Key replays).

    Its name is part of every Idempotency-Key record id (see `http.idempotency`): renaming it
    would make stored keys stop matching."""
    action = ACTIONS[request["action"]]
    inputs = action.input_model.model_validate(request["body"])
    job = use_cases.submit(get_services(), request["tenant"], action, request["path_params"], inputs)
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    location = f"{request['base_path']}/status?job_id={job.job_id}"
    return {"job_id": job.job_id, "status": job.status.value, "status_url": location}


def cancel(tenant_id: TENANT_ID, job_id: JOB_ID_PATH) -> Response[str]:
    job = use_cases.cancel(get_services(), tenant_id, job_id)
    return json_response(200 if job.status.terminal else 202, job.to_public())


def status_app() -> APIGatewayHttpResolver:
    """StatusFunction's resolver: `GET …/{action}/status?job_id=…` for every action, and the list."""
    app = new_app()
    for action in ACTIONS.values():
        app.get(
            resolver_path(action.status_path),
            summary=f"Status of a {action.name} job",
            responses={404: {"description": NOT_FOUND}},
            tags=["actions"],
        )(action_route(action, _status, [("job_id", JOB_ID_QUERY)], "status"))
    app.get("/v2/tenants/<tenant_id>/jobs", summary="List a tenant's jobs, newest first", tags=["jobs"])(
        list_jobs
    )
    from asyncjobs.http.v2 import files

    files.register_status_routes(app)
    return app


def _status(action: Action, tenant_id: str, path_params: dict[str, str], job_id: str) -> Response[str]:
    svc = get_services()
    logger.append_keys(job_id=job_id)
    job = use_cases.status(svc, tenant_id, action, path_params, job_id)
    headers = None if job.status.terminal else {"Retry-After": str(svc.settings.poll_after_s)}
    return json_response(200, use_cases.public_view(svc, job), headers=headers)


def list_jobs(
    tenant_id: TENANT_ID,
    action: Annotated[str | None, Query(description="Only jobs of this action.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
) -> Response[str]:
    svc = get_services()
    page = use_cases.list_jobs(svc, tenant_id, action=action, status=status, limit=limit, cursor=cursor)
    return json_response(200, {"jobs": [j.to_summary() for j in page.jobs], "next_cursor": page.cursor})
