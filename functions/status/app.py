"""StatusFunction: reads jobs (`GET …/{action}/status?job_id=…`) and lists a tenant's jobs."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.actions.base import Action
from asyncjobs.actions.registry import ACTIONS
from asyncjobs.errors import InvalidRequest
from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.gate import gate
from asyncjobs.http.routes import TENANT_ID_PATTERN, action_route, resolver_path
from asyncjobs.jobs import use_cases
from asyncjobs.jobs.ids import JOB_ID_PARAM_PATTERN
from asyncjobs.jobs.models import JobStatus
from asyncjobs.jobs.store import MAX_PAGE_SIZE
from asyncjobs.observability import logger
from asyncjobs.services import get_services

app = new_app()


def _status(action: Action, tenant_id: str, path_params: dict[str, str], job_id: str) -> Response[str]:
    svc = get_services()
    logger.append_keys(job_id=job_id)
    job = use_cases.status(svc, tenant_id, action, path_params, job_id)
    headers = None if job.status.terminal else {"Retry-After": str(svc.settings.poll_after_s)}
    return json_response(200, use_cases.public_view(svc, job), headers=headers)


for _action in ACTIONS.values():
    app.get(
        resolver_path(_action.status_path),
        summary=f"Status of a {_action.name} job",
        responses={404: {"description": "No such job for this tenant, action and resource, or it expired."}},
        tags=["actions"],
    )(
        action_route(
            _action,
            _status,
            [
                (
                    "job_id",
                    Annotated[
                        str,
                        Query(
                            pattern=JOB_ID_PARAM_PATTERN, max_length=64, description="From the run response."
                        ),
                    ],
                )
            ],
            "status",
        )
    )


@app.get("/v2/tenants/<tenant_id>/jobs", summary="List a tenant's jobs, newest first", tags=["jobs"])
def list_jobs(
    tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
    action: Annotated[str | None, Query(description="Only jobs of this action.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
) -> Response[str]:
    svc = get_services()
    if action is not None and action not in ACTIONS:
        raise InvalidRequest(f"query `action` must be one of: {', '.join(sorted(ACTIONS))}.")
    page = use_cases.list_jobs(svc, tenant_id, action=action, status=status, limit=limit, cursor=cursor)
    return json_response(200, {"jobs": [j.to_summary() for j in page.jobs], "next_cursor": page.cursor})


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return gate(event) or app.resolve(event, context)
