"""The jobs API, v2: the routes of RunFunction (one run route per action, and cancel) and of
StatusFunction (one status route per action, and the list), with their request schemas."""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.metrics import MetricUnit

from asyncjobs.actions.declaration import Action
from asyncjobs.actions.registry import ACTIONS
from asyncjobs.errors import ServiceUnavailable
from asyncjobs.http.app import json_response, new_app
from asyncjobs.http.lazy import lazy_module
from asyncjobs.http.params import Header, Path, Query
from asyncjobs.http.router import RequestValidationError, Response, Router
from asyncjobs.http.routes import (
    ACTION_INPUT,
    BODY,
    PATH_PARAM_PATTERN,
    TENANT_ID_PATTERN,
    action_route,
    resolver_path,
)
from asyncjobs.jobs import use_cases
from asyncjobs.jobs.ids import JOB_ID_PARAM_PATTERN
from asyncjobs.jobs.models import MULTI_ACTION, JobStatus
from asyncjobs.jobs.store import MAX_PAGE_SIZE
from asyncjobs.observability import logger, metrics
from asyncjobs.services import get_services

# Request bodies (pydantic), loaded when a route that reads one first runs: see http.lazy.
bodies = lazy_module("asyncjobs.http.v2.bodies")
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
PREFER = Annotated[
    str | None,
    Header(
        description="`wait=N` (RFC 7240): wait up to N seconds (at most 25) for the job to end. If it "
        "ends in time the answer is 200 with the finished job; otherwise the usual answer. The "
        "answer carries `Preference-Applied: wait=N` with the wait actually allowed.",
        max_length=200,
    ),
]
_WAIT = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,6})\"?\s*$", re.IGNORECASE)
# The function must answer before API Gateway's 30 s: a wait ends this long before the function's
# own deadline (run and status have a 29 s Timeout).
_ANSWER_MARGIN_S = 3.0


def wait_preference(prefer: str | None, remaining_s: float | None) -> int | None:
    """The seconds a `Prefer: wait=N` header asks for, capped at MAX_WAIT_S and at what the
    function has left; None when the header asks for no wait. Other preferences are ignored, as
    RFC 7240 says a server may."""
    for part in (prefer or "").split(","):
        for token in part.split(";"):
            found = _WAIT.match(token)
            if found:
                cap = use_cases.MAX_WAIT_S
                if remaining_s is not None:
                    cap = min(cap, max(0, int(remaining_s - _ANSWER_MARGIN_S)))
                return min(int(found.group(1)), cap)
    return None


def _remaining_s(app: Router) -> float | None:
    context = getattr(app, "lambda_context", None)
    return context.get_remaining_time_in_millis() / 1000 if context is not None else None


NOT_FOUND = "No such job for this tenant, action and resource, or it expired."
# The headers of the run and status answers (OpenAPI only).
_LOCATION = {"description": "The job's status URL (a path).", "required": True}
_REPLAYED = {"description": "`true` when an `Idempotency-Key` replayed the first answer."}
_APPLIED = {"description": "`wait=N`: the wait allowed, with `Prefer: wait`."}
RUN_HEADERS_202 = {
    "Location": _LOCATION,
    "Retry-After": {"description": "Seconds to wait before polling.", "required": True},
    "Idempotent-Replayed": _REPLAYED,
    "Preference-Applied": _APPLIED,
}
RUN_HEADERS_200 = {"Location": _LOCATION, "Idempotent-Replayed": _REPLAYED, "Preference-Applied": _APPLIED}
STATUS_HEADERS = {
    "Retry-After": {"description": "Seconds to wait before polling again, while the job has not ended."},
    "Preference-Applied": _APPLIED,
}
IN_FLIGHT = "A request with the same `Idempotency-Key` is still being accepted (`Retry-After: 1`)."


def _run_responses(invalid: str) -> dict[int, dict[str, Any]]:
    """What a run (of one action or of several) answers, for the OpenAPI document."""
    return {
        200: {
            "description": "With `Prefer: wait=N`: the job ended within N seconds (its status).",
            "model": "JobDocument",
            "headers": RUN_HEADERS_200,
        },
        202: {
            "description": "Accepted: poll the `Location` URL for the job's status.",
            "model": "RunAccepted",
            "headers": RUN_HEADERS_202,
        },
        409: {"description": IN_FLIGHT},
        422: {"description": invalid},
    }


def run_app() -> Router:
    """RunFunction's resolver: `POST …/{action}/run` for every action, and cancel."""
    app = new_app()

    def run(
        action: Action,
        tenant_id: str,
        path_params: dict[str, str],
        body: Any,
        idempotency_key: str | None,
        prefer: str | None,
    ) -> Response:
        request = {
            "tenant": tenant_id,
            "action": action.name,
            "path_params": path_params,
            "body": body.model_dump(mode="json"),
            "base_path": app.current_event.path.removesuffix("/run"),
        }
        return _run(request, idempotency_key, _accept, wait_preference(prefer, _remaining_s(app)), app)

    for action in ACTIONS.values():
        app.post(
            resolver_path(action.run_path),
            operation_id=f"run_{action.name}",
            summary=action.summary,
            description=action.description,
            responses=_run_responses("The inputs are malformed; the message names each field to fix."),
            tags=["actions"],
        )(
            action_route(
                action,
                run,
                [
                    ("body", ACTION_INPUT),
                    ("idempotency_key", IDEMPOTENCY_KEY, None),
                    ("prefer", PREFER, None),
                ],
                "run",
            )
        )

    @app.post(
        "/v2/tenants/<tenant_id>/jobs",
        operation_id="run_job",
        summary="Run several actions as one job",
        description="Each action runs in parallel with its own status, progress and result or error; "
        "one failing does not fail the others. The job ends when all have ended, with one event and "
        "one webhook delivery per subscription.",
        responses=_run_responses("The request is malformed; the message names each field to fix."),
        tags=["jobs"],
    )
    def run_multi(
        tenant_id: TENANT_ID,
        body: Annotated[bodies.MultiJobRequest, BODY],
        idempotency_key: IDEMPOTENCY_KEY = None,
        prefer: PREFER = None,
    ) -> Response:
        request = {  # shaped as a run's: an Idempotency-Key compares action, path_params and body
            "tenant": tenant_id,
            "action": MULTI_ACTION,
            "path_params": {},
            "body": [a.model_dump(mode="json") for a in body.actions],
            "base_path": app.current_event.path,
        }
        wait_s = wait_preference(prefer, _remaining_s(app))
        return _run(request, idempotency_key, _accept_multi, wait_s, app)

    app.post(
        "/v2/tenants/<tenant_id>/jobs/<job_id>/cancel",
        operation_id="cancel_job",
        summary="Cancel a job",
        responses={
            200: {
                "description": "The job was queued and is now cancelled; it will never run.",
                "model": "CancelledJob",
            },
            202: {
                "description": "The job is running; it stops at its next progress report.",
                "model": "CancelledJob",
            },
            404: {"description": "No such job for this tenant, or it expired."},
            409: {"description": "The job has already ended (or changed state meanwhile: retry)."},
        },
        tags=["jobs"],
    )(cancel)
    from asyncjobs.http.v2 import files

    files.register_run_routes(app)
    return app


def _run(
    request: dict[str, Any],
    idempotency_key: str | None,
    accept: Any,
    wait_s: int | None,
    app: Router,
) -> Response:
    # Imported here, not at the top: StatusFunction loads this module too and never needs it.
    from asyncjobs.http import idempotency

    svc = get_services()
    headers = {"Retry-After": str(svc.settings.poll_after_s)}
    if idempotency_key is None:
        doc = accept(request)
    else:
        doc = idempotency.accept_once(accept, request, idempotency_key)
        if doc.pop(idempotency.REPLAYED, False):
            headers["Idempotent-Replayed"] = "true"
    headers["Location"] = doc["status_url"]
    if wait_s is not None:
        # Sync mode: the job was accepted like any other (its answer above is what a key replays);
        # this request then waits for it, and answers with the finished job if it ends in time.
        headers["Preference-Applied"] = f"wait={wait_s}"
        remaining = _remaining_s(app)  # submitting took some of it
        if remaining is not None:
            wait_s = min(wait_s, max(0, int(remaining - _ANSWER_MARGIN_S)))
        try:
            tree = use_cases.wait(svc, request["tenant"], doc["job_id"], wait_s)
            if tree.status.terminal:
                headers.pop("Retry-After")
                return json_response(200, use_cases.tree_view(svc, tree), headers=headers)
        except ServiceUnavailable as exc:
            # The job is accepted: a 503 now would invite a retry that starts it again. The
            # caller gets its 202 and polls, as if the wait had run out.
            logger.warning("waiting for the job failed; answering 202", extra={"reason": exc.message})
    return json_response(202, doc, headers=headers)


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


def _accept_multi(request: dict[str, Any]) -> dict[str, Any]:
    """Validates each action of a multi-action job and submits it (what an Idempotency-Key
    replays; its name is part of every key's record id, like `_accept`'s)."""
    calls, errors = [], []
    for i, spec in enumerate(request["body"]):
        where = ("body", "actions", i)
        action = ACTIONS.get(spec["name"])
        if action is None:
            known = ", ".join(sorted(ACTIONS))
            errors.append({"loc": (*where, "name"), "msg": f"must be one of: {known}", "type": "enum"})
            continue
        path_params = spec["path_params"]
        for name in sorted(set(action.path_params) ^ set(path_params)):
            problem = (
                "is required" if name in action.path_params else "is not a path parameter of this action"
            )
            errors.append({"loc": (*where, "path_params", name), "msg": problem, "type": "path_params"})
        for name, value in path_params.items():
            if name in action.path_params and not re.match(PATH_PARAM_PATTERN, value):
                msg = f"must match {PATH_PARAM_PATTERN}"
                errors.append(
                    {"loc": (*where, "path_params", name), "msg": msg, "type": "string_pattern_mismatch"}
                )
        try:
            inputs = action.input_model.model_validate(spec["params"])
        except bodies.ValidationError as exc:
            errors += [{**e, "loc": (*where, "params", *e["loc"])} for e in exc.errors()]
            continue
        calls.append(use_cases.ActionCall(action, path_params, inputs))
    if errors:
        raise RequestValidationError(errors)
    job = use_cases.submit_multi(get_services(), request["tenant"], calls)
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    location = f"{request['base_path']}/{job.job_id}"
    return {"job_id": job.job_id, "status": job.status.value, "status_url": location}


def cancel(tenant_id: TENANT_ID, job_id: JOB_ID_PATH) -> Response:
    svc = get_services()
    job = use_cases.cancel(svc, tenant_id, job_id)
    if not job.is_multi:
        return json_response(200 if job.status.terminal else 202, job.to_public())
    tree = use_cases.view(svc, tenant_id, job_id)  # the answer's code and body from this one read
    return json_response(200 if tree.job.status.terminal else 202, use_cases.tree_view(svc, tree))


def status_app() -> Router:
    """StatusFunction's resolver: `GET …/{action}/status?job_id=…` for every action, and the list."""
    app = new_app()
    for action in ACTIONS.values():
        app.get(
            resolver_path(action.status_path),
            operation_id=f"{action.name}_status",
            summary=f"Status of a {action.name} job",
            responses={
                200: {
                    "description": "The job's status document.",
                    "model": "JobDocument",
                    "headers": STATUS_HEADERS,
                },
                404: {"description": NOT_FOUND},
            },
            tags=["actions"],
        )(action_route(action, _status(app), [("job_id", JOB_ID_QUERY), ("prefer", PREFER, None)], "status"))
    app.get(
        "/v2/tenants/<tenant_id>/jobs",
        operation_id="list_jobs",
        summary="List a tenant's jobs, newest first",
        responses={
            200: {"description": "A page of jobs; `next_cursor` is `null` on the last.", "model": "JobList"},
            422: {"description": "An invalid filter, limit or cursor."},
        },
        tags=["jobs"],
    )(list_jobs)

    @app.get(
        "/v2/tenants/<tenant_id>/jobs/<job_id>",
        operation_id="get_job",
        summary="Status of any job of the tenant",
        description="One-action and multi-action jobs alike; a multi-action job lists each action's "
        "status and result or error under `actions`.",
        responses={
            200: {
                "description": "The job's status document.",
                "model": "JobDocument",
                "headers": STATUS_HEADERS,
            },
            404: {"description": "No such job for this tenant, or it expired."},
        },
        tags=["jobs"],
    )
    def job_status(tenant_id: TENANT_ID, job_id: JOB_ID_PATH, prefer: PREFER = None) -> Response:
        svc = get_services()
        logger.append_keys(job_id=job_id)
        wait_s = wait_preference(prefer, _remaining_s(app))
        if wait_s is None:
            tree = use_cases.view(svc, tenant_id, job_id)
        else:
            tree = use_cases.wait(svc, tenant_id, job_id, wait_s)
        return _status_response(svc, tree, wait_s)

    from asyncjobs.http.v2 import files

    files.register_status_routes(app)
    return app


def _status_response(svc: Any, tree: use_cases.JobTree, wait_s: int | None) -> Response:
    headers = {} if tree.status.terminal else {"Retry-After": str(svc.settings.poll_after_s)}
    if wait_s is not None:
        headers["Preference-Applied"] = f"wait={wait_s}"
    return json_response(200, use_cases.tree_view(svc, tree), headers=headers or None)


def _status(app: Router) -> Any:
    def status(
        action: Action, tenant_id: str, path_params: dict[str, str], job_id: str, prefer: str | None
    ) -> Response:
        svc = get_services()
        logger.append_keys(job_id=job_id)
        job = use_cases.status(svc, tenant_id, action, path_params, job_id)
        wait_s = wait_preference(prefer, _remaining_s(app))
        tree = use_cases.JobTree(job, [job])
        if wait_s is not None and not job.status.terminal:
            tree = use_cases.wait(svc, tenant_id, job_id, wait_s, job=job)
        return _status_response(svc, tree, wait_s)

    return status


def list_jobs(
    tenant_id: TENANT_ID,
    action: Annotated[str | None, Query(description="Only jobs of this action.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 25,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
) -> Response:
    svc = get_services()
    page = use_cases.list_jobs(svc, tenant_id, action=action, status=status, limit=limit, cursor=cursor)
    return json_response(200, {"jobs": [j.to_summary() for j in page.jobs], "next_cursor": page.cursor})
