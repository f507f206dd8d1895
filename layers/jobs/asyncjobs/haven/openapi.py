"""The Haven routes' OpenAPI description, offline only (`HavenApi.get_openapi_json_schema`, read by
the local stack's /openapi.json and `make openapi`). HavenFunction routes by hand (`haven.api`), so
there are no route declarations to build it from: the paths are written here, next to the code
they describe, with the response bodies as pydantic models. Imports pydantic: never on the cold
path of the function."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from asyncjobs.haven.bodies import FAILED, FINISHED, IN_PROGRESS, QUEUED, VERSION
from asyncjobs.haven.errors import CODES
from asyncjobs.haven.params import ALIASES, VERSIONS
from asyncjobs.jobs.use_cases import MAX_ACTIONS, MAX_WAIT_S

TAG = "haven"
_JOB_ID = "01a203b7-0e11-74d0-ad5d-dde9fe7bd4df"
HavenWord = Literal[QUEUED, IN_PROGRESS, FINISHED, FAILED]  # type: ignore[valid-type]


def _absent() -> Any:
    return None  # a field left out when it does not apply: no `default`, not required


class HavenErrorBody(BaseModel):
    """Haven's error body; the client parses it whatever the status code."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": 2002, "reason": "Invalid API key", "detail": "…"}]}
    )
    error: int = Field(
        json_schema_extra={"enum": sorted(CODES)},
        description="The code: "
        + "; ".join(f"{code} {reason} (HTTP {status})" for code, (reason, status) in sorted(CODES.items()))
        + ".",
    )
    reason: str
    detail: Any = Field(default_factory=_absent, description="What went wrong, a string or an object.")
    jobID: str = Field(default_factory=_absent, description="The job, when one exists (e.g. 7010).")


class HavenJobId(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"jobID": _JOB_ID}]})
    jobID: str


class HavenActionStatus(BaseModel):
    action: str
    version: str = Field(json_schema_extra={"examples": [VERSION]})
    status: HavenWord = Field(description="A cancelled action is `failed`, with error 7102.")
    result: Any = Field(default_factory=_absent, description="When `finished`: the action's result.")
    error: HavenErrorBody = Field(default_factory=_absent, description="When `failed`.")
    errors: list[HavenErrorBody] = Field(
        default_factory=_absent,
        description="When `failed`: `error` again, in a list (the public client reads it).",
    )


class HavenJobStatus(BaseModel):
    """A job's status: the least advanced of its actions' while any runs; once all have ended,
    `finished` if at least one finished, `failed` if all failed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "actions": [
                        {
                            "action": "highlight",
                            "version": VERSION,
                            "status": FINISHED,
                            "result": {"text": 'a <span class="highlight">fast</span> job'},
                        }
                    ],
                    "jobID": _JOB_ID,
                    "status": FINISHED,
                }
            ]
        }
    )
    actions: list[HavenActionStatus]
    jobID: str
    status: HavenWord


MODELS = (HavenErrorBody, HavenJobId, HavenJobStatus)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_GATEWAY = _ref("GatewayError")  # defined by the v2 document (`http.openapi`), merged with this one
ERROR_TEXT = {
    202: f"Error 7010: the job did not end within {MAX_WAIT_S} s; it goes on (`jobID`, and `Location`: "
    "its status route).",
    400: "4006 invalid parameter, 4008 missing parameter, 4010 invalid request.",
    401: "2000 no `apikey`, 2002 unknown or revoked key.",
    404: "4004 unknown action, 4005 unknown version.",
    409: "4409: a request with the same `Idempotency-Key` is still being accepted.",
    413: "4012: the form is too large (or a file named by id is); API Gateway refuses over 10 MB itself.",
    415: "4015: the body is neither a urlencoded nor a multipart form.",
    429: "API Gateway's stage throttling (its own body).",
    502: "7101: the action failed on the service's side (`detail`: its code and message).",
    503: "5000: a dependency is unavailable; retry after `Retry-After` (API Gateway's own body if the "
    "function did not answer in time).",
}
_FROM_GATEWAY = {413, 429, 503}
_HEADERS = {
    202: {"Location": "The job's status route, `/1/job/status/{jobID}`."},
    503: {"Retry-After": "Seconds to wait before retrying (error 5000 only)."},
}


def _responses(ok: dict[str, Any], errors: dict[int, str]) -> dict[str, Any]:
    responses = {"200": ok}
    for status, text in sorted(errors.items()):
        schema = _ref("HavenErrorBody")
        if status == 429:
            schema = _GATEWAY
        elif status in _FROM_GATEWAY:
            schema = {"anyOf": [schema, _GATEWAY]}
        responses[str(status)] = {"description": text, "content": {"application/json": {"schema": schema}}}
        if status in _HEADERS:
            responses[str(status)]["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in _HEADERS[status].items()
            }
    return responses


def _apikey(required: bool) -> dict[str, Any]:
    where = "" if required else " (or send it as the form field `apikey`)"
    return {
        "name": "apikey",
        "in": "query",
        "required": required,
        "description": f"An API key of the tenant{where}.",
        "schema": {"type": "string"},
    }


def _form(properties: dict[str, Any], required: list[str], files: bool) -> dict[str, Any]:
    """A urlencoded or multipart form body: named fields plus the action's own parameters."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "apikey": {"type": "string", "description": "An API key of the tenant."},
            **properties,
        },
        "additionalProperties": {"type": "string"},
    }
    if required:
        schema["required"] = required
    content = {"application/x-www-form-urlencoded": {"schema": schema}}
    if files:
        multipart = json.loads(json.dumps(schema))
        multipart["additionalProperties"] = {"type": "string", "format": "binary"}
        content["multipart/form-data"] = {"schema": multipart}
    return {"required": False, "content": content}


def paths() -> dict[str, Any]:
    from asyncjobs.actions.registry import ACTIONS

    names = sorted({*ACTIONS, *ALIASES})
    api_params = [
        {
            "name": "action",
            "in": "path",
            "required": True,
            "description": "An action of `/v2` (`highlighttext` is `highlight`).",
            "schema": {"type": "string", "enum": names},
        },
        {
            "name": "version",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": list(VERSIONS)},
        },
    ]
    params_text = (
        " The action's parameters (and its path parameters, e.g. `design_id`) are query parameters "
        "(GET) or form fields (POST), each a string: numbers and booleans are converted, a JSON object or "
        "array is parsed for a field that is not a string. On POST, a multipart `file` field is "
        "stored and passed as the action's `file`."
    )
    job_id = {"jobID": _ref("HavenJobId")}
    submit_errors = {s: ERROR_TEXT[s] for s in (400, 401, 404, 409, 413, 429, 503)}
    form_errors = {**submit_errors, 415: ERROR_TEXT[415]}
    sync_extra = {
        202: ERROR_TEXT[202],
        400: ERROR_TEXT[400] + " 7100: the action failed (`detail`: its code and message).",
        409: ERROR_TEXT[409] + " 7102: the job was cancelled.",
        502: ERROR_TEXT[502],
    }
    result = {
        "description": 'The action\'s result (e.g. `{"text": …}`), or `{"result_file": {…, "download_url"}}` '
        "when it was too large to keep inline.",
        "content": {"application/json": {"schema": {}}},
    }
    accepted = {
        "description": "The job was accepted.",
        "content": {"application/json": {"schema": job_id["jobID"]}},
    }
    status = {
        "description": "The job's status.",
        "content": {"application/json": {"schema": _ref("HavenJobStatus")}},
    }

    def op(
        summary: str, description: str, ok: dict[str, Any], errors: dict[int, str], **more: Any
    ) -> dict[str, Any]:
        return {
            "tags": [TAG],
            "summary": summary,
            "description": description,
            "security": [],
            "responses": _responses(ok, errors),
            **more,
        }

    sync_text = (
        f"Submits the action and waits up to {MAX_WAIT_S} s for its result (Haven allowed 2 minutes)."
        + params_text
    )
    async_text = "Submits the action; follow it with `/1/job/status` or `/1/job/result`." + params_text
    sync_errors = {**submit_errors, **sync_extra}
    doc: dict[str, Any] = {
        "/1/api/sync/{action}/{version}": {
            "get": op(
                "Run an action and wait for its result",
                sync_text,
                result,
                sync_errors,
                operationId="haven_sync_get",
                parameters=[*api_params, _apikey(True)],
            ),
            "post": op(
                "Run an action and wait for its result",
                sync_text,
                result,
                {**form_errors, **sync_extra},
                operationId="haven_sync_post",
                parameters=[*api_params, _apikey(False)],
                requestBody=_form({}, [], files=True),
            ),
        },
        "/1/api/async/{action}/{version}": {
            "get": op(
                "Submit an action",
                async_text,
                accepted,
                submit_errors,
                operationId="haven_async_get",
                parameters=[*api_params, _apikey(True)],
            ),
            "post": op(
                "Submit an action",
                async_text,
                accepted,
                form_errors,
                operationId="haven_async_post",
                parameters=[*api_params, _apikey(False)],
                requestBody=_form({}, [], files=True),
            ),
        },
        "/1/job": {
            "post": op(
                "Submit a job of several actions",
                f'`job` is a JSON object `{{"actions": [{{"name", "version", "params"}}]}}` (1 to '
                f"{MAX_ACTIONS} actions, run in parallel). A parameter that takes a file may name a file "
                'field of the multipart form (`"file": "file1"`).',
                accepted,
                {**form_errors, 404: "4004 unknown action, 4005 unknown version (in `job`)."},
                operationId="haven_job",
                parameters=[_apikey(False)],
                requestBody={
                    **_form(
                        {"job": {"type": "string", "description": "The job, as JSON."}}, ["job"], files=True
                    ),
                    "required": True,
                },
            ),
        },
    }
    for kind, summary, text in (
        (
            "status",
            "A job's status",
            "The job's status now, with each action's result or error once it has ended.",
        ),
        (
            "result",
            "A job's result",
            f"As soon as the job has ended, or after {MAX_WAIT_S} s with its current status.",
        ),
    ):
        doc[f"/1/job/{kind}/{{jobID}}"] = {
            "get": op(
                summary,
                text,
                status,
                {
                    401: ERROR_TEXT[401],
                    404: "7001: no such job for this tenant, or it expired.",
                    429: ERROR_TEXT[429],
                    503: ERROR_TEXT[503],
                },
                operationId=f"haven_job_{kind}",
                parameters=[
                    {"name": "jobID", "in": "path", "required": True, "schema": {"type": "string"}},
                    _apikey(True),
                ],
            )
        }
    return doc


def document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "serialization") for m in MODELS], ref_template="#/components/schemas/{model}"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "asyncjobs: Haven OnDemand compatibility", "version": "1"},
        "tags": [
            {
                "name": TAG,
                "description": "Haven OnDemand's API (`/1/...`) on the same jobs: the key is the `apikey` "
                "parameter (query string or form field), not a bearer token; errors are "
                "`{error, reason, detail}`.",
            }
        ],
        "paths": paths(),
        "components": {"schemas": defs.get("$defs", {})},
    }


def openapi_json_schema() -> str:
    return json.dumps(document())
