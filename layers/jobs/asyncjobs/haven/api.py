"""The Haven routes, behind `ANY /1/{proxy+}` (HavenFunction, no API Gateway authorizer: the key
may be in a form body, see `auth`), and the one place turning errors into Haven's body.

    GET|POST /1/api/sync/{action}/{version}    submit, wait up to the cap, answer the result
    GET|POST /1/api/async/{action}/{version}   submit -> {"jobID"}
    POST     /1/job                            `job` JSON (+ file fields) -> {"jobID"}
    GET      /1/job/status/{jobID}             the job's status body
    GET      /1/job/result/{jobID}             the same, once the job has ended or the cap passed

Sync mode waits at most `use_cases.MAX_WAIT_S` (25 s), below API Gateway's 30 s integration
timeout (Haven allowed 2 minutes). Past it the answer is error 7010 with the `jobID`, HTTP 202:
the job was accepted and goes on (a 5xx would invite retry policies to submit it again), and the
caller continues with `/1/job/status` or `/1/job/result`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from asyncjobs.errors import Conflict, DomainError, InfrastructureError, NotFound, ServiceUnavailable
from asyncjobs.haven import bodies
from asyncjobs.haven.auth import ApiKeys
from asyncjobs.haven.errors import HavenError, action_error
from asyncjobs.haven.params import (
    HavenRequest,
    find_action,
    inputs_from_strings,
    is_file_field,
    read_job,
    read_request,
)
from asyncjobs.jobs import use_cases
from asyncjobs.jobs.models import JobStatus
from asyncjobs.jobs.uploads import FileNotUploaded, FileTooLarge
from asyncjobs.jobs.use_cases import ActionCall
from asyncjobs.observability import logger
from asyncjobs.services import Services

_API = re.compile(r"^/1/api/(?P<mode>sync|async)/(?P<action>[^/]+)/(?P<version>[^/]+)/?$")
_JOB = re.compile(r"^/1/job/?$")
_READ = re.compile(r"^/1/job/(?P<kind>status|result)/(?P<job_id>[^/]+)/?$")
# Seconds kept back from the function's remaining time when waiting: the answer must be written
# (and, for a sync result, download URLs signed) before Lambda's Timeout and API Gateway's 30 s.
_ANSWER_MARGIN_S = 3.0
_JOB_ACTION = "haven_job"  # the `action` of a /1/job request in its Idempotency-Key record


class HavenApi:
    def __init__(self, services: Callable[[], Services], keys: ApiKeys) -> None:
        self._services = services
        self._keys = keys

    def handle(self, event: dict[str, Any], remaining_s: Callable[[], float]) -> dict[str, Any]:
        """Answers one HTTP API (payload 2.0) request; never raises."""
        try:
            status, body, headers = self._route(event, remaining_s)
        except HavenError as exc:
            status, body, headers = exc.status, exc.body(), exc.headers
        except (ServiceUnavailable, InfrastructureError) as exc:
            logger.error("dependency unavailable", extra={"reason": str(exc)})
            error = HavenError(5000, "A dependency is unavailable; retry in a few seconds.")
            status, body, headers = error.status, error.body(), {"Retry-After": "5"}
        except Conflict as exc:
            status, body, headers = 409, HavenError(4409, exc.message).body(), {}
        except FileNotUploaded as exc:  # a file id parameter naming no file of the tenant
            status, body, headers = 400, HavenError(4006, exc.message).body(), {}
        except FileTooLarge as exc:
            status, body, headers = 413, HavenError(4012, exc.message).body(), {}
        except DomainError as exc:
            # A form refused by its parser (413 too large, 415 not a form, 400 malformed), a reused
            # Idempotency-Key, a file id that does not exist (NotFound outside /1/job/status|result).
            error = HavenError({413: 4012, 415: 4015}.get(exc.status, 4010), exc.message)
            status, body, headers = error.status, error.body(), {}
        except Exception:
            logger.exception("unhandled error")
            status, body, headers = 500, HavenError(5001, "An unexpected error occurred.").body(), {}
        return {
            "statusCode": status,
            "headers": {"Content-Type": "application/json", **headers},
            "body": json.dumps(body, separators=(",", ":")),
            "isBase64Encoded": False,
        }

    def get_openapi_json_schema(self) -> str:
        """These routes' OpenAPI description, for the local stack and `make openapi` (offline only:
        `haven.openapi` imports pydantic)."""
        from asyncjobs.haven.openapi import openapi_json_schema

        return openapi_json_schema()

    # -- routing ---------------------------------------------------------------------------
    def _route(
        self, event: dict[str, Any], remaining_s: Callable[[], float]
    ) -> tuple[int, Any, dict[str, str]]:
        path = event.get("rawPath") or ""
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "GET").upper()
        if m := _API.match(path):
            self._allow(method, "GET", "POST")
            return self._api(event, m["mode"] == "sync", m["action"], m["version"], remaining_s)
        if _JOB.match(path):
            self._allow(method, "POST")
            return self._job(event)
        if m := _READ.match(path):
            self._allow(method, "GET")
            return self._read(event, m["job_id"], m["kind"] == "result", remaining_s)
        raise HavenError(
            4040, "Routes: /1/api/sync|async/{action}/{version}, /1/job, /1/job/status|result/{jobID}."
        )

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise HavenError(4014, f"This route takes {' or '.join(allowed)}.")

    def _authenticate(self, request: HavenRequest) -> str:
        principal = self._keys.principal(request.first("apikey"))
        logger.append_keys(tenant_id=principal.tenant_id, key_id=principal.key_id)
        return principal.tenant_id

    # -- /1/api/sync|async/{action}/{version} ----------------------------------------------
    def _api(
        self, event: dict[str, Any], sync: bool, name: str, version: str, remaining_s: Callable[[], float]
    ) -> tuple[int, Any, dict[str, str]]:
        request = read_request(event)
        tenant_id = self._authenticate(request)
        action = find_action(name, version)
        params = {k: v for k, v in request.fields.items() if k != "apikey"}
        uploads = request.files.get("file") or []
        if other := sorted(set(request.files) - {"file"}):
            raise HavenError(4006, f"file field(s) {other} are not parameters; send the file as 'file'")
        if len(uploads) > 1:
            raise HavenError(4006, "'file' holds several files; send one per request, or use /1/job")
        if uploads and "file" in params:
            raise HavenError(4006, "'file' is given both as a file and as a value; give it once")
        if uploads:
            if not is_file_field(action.input_model, "file"):
                raise HavenError(4006, f"'file' is not a parameter of {action.name}")
            params["file"] = [self._store(tenant_id, uploads[0])]
        path_params, inputs = inputs_from_strings(action, params)
        job_id = self._submit(event, tenant_id, [ActionCall(action, path_params, inputs)], multi=False)
        if not sync:
            return 200, {"jobID": job_id}, {}
        svc = self._services()
        try:
            tree = use_cases.wait(svc, tenant_id, job_id, self._wait_s(remaining_s))
        except (ServiceUnavailable, InfrastructureError) as exc:
            # The job is accepted: answer with its jobID (as when the wait runs out), never a 5000
            # that invites a retry starting it again.
            logger.warning("waiting for the job failed", extra={"reason": str(exc)})
            raise self._timed_out(job_id) from exc
        done = tree.actions[0]
        if done.status is JobStatus.SUCCEEDED:
            return 200, bodies.result_of(use_cases.public_view(svc, done)), {}
        if done.status.terminal:
            error = action_error(done.error, cancelled=done.status is JobStatus.CANCELLED)
            error.job_id = job_id
            raise error
        raise self._timed_out(job_id)

    @staticmethod
    def _timed_out(job_id: str) -> HavenError:
        return HavenError(
            7010,
            f"The job did not end within {int(use_cases.MAX_WAIT_S)} s (Haven allowed 2 minutes; API "
            f"Gateway allows 30 s). It goes on: poll /1/job/status/{job_id} or wait on "
            f"/1/job/result/{job_id}.",
            job_id=job_id,
            headers={"Location": f"/1/job/status/{job_id}"},
        )

    # -- /1/job ----------------------------------------------------------------------------
    def _job(self, event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        request = read_request(event)
        tenant_id = self._authenticate(request)
        actions = read_job(request.first("job"), use_cases.MAX_ACTIONS)
        refs = [a.file_refs(request.files) for a in actions]
        file_ids: dict[str, str] = {}
        for field in sorted({f for r in refs for f in r.values()}):  # each field stored once
            uploads = request.files[field]
            if len(uploads) > 1:
                raise HavenError(4006, f"file field '{field}' holds {len(uploads)} files; one per field")
            file_ids[field] = self._store(tenant_id, uploads[0])
        calls = []
        for n, (job_action, ref) in enumerate(zip(actions, refs, strict=True)):
            try:
                path_params, inputs = job_action.validated(ref, file_ids)
            except HavenError as exc:
                exc.detail = f"actions[{n}] ({job_action.action.name}): {exc.detail}"
                raise
            calls.append(ActionCall(job_action.action, path_params, inputs))
        return 200, {"jobID": self._submit(event, tenant_id, calls, multi=True)}, {}

    def _store(self, tenant_id: str, upload: Any) -> str:
        file_id: str = self._services().files.put_upload(
            tenant_id, upload.data, upload.filename or upload.field, upload.content_type
        )
        return file_id

    # -- submitting (once per Idempotency-Key) ---------------------------------------------
    def _submit(self, event: dict[str, Any], tenant_id: str, calls: list[ActionCall], multi: bool) -> str:
        key = (event.get("headers") or {}).get("idempotency-key")
        if key is None:
            return self._accept_calls(tenant_id, calls, multi)
        from asyncjobs.http import idempotency

        if multi:
            body: Any = [
                {
                    "action": c.action.name,
                    "path_params": c.path_params,
                    "inputs": c.inputs.model_dump(mode="json"),
                }
                for c in calls
            ]
            request = {"tenant": tenant_id, "action": _JOB_ACTION, "path_params": {}, "body": body}
        else:
            (call,) = calls
            body = call.inputs.model_dump(mode="json")
            request = {
                "tenant": tenant_id,
                "action": call.action.name,
                "path_params": call.path_params,
                "body": body,
            }
        return str(idempotency.accept_once(self._accept, request, key)["jobID"])

    def _accept(self, request: dict[str, Any]) -> dict[str, Any]:
        """Submits what an Idempotency-Key request describes; its result is what a replay returns."""
        from asyncjobs.actions.registry import ACTIONS

        if request["action"] == _JOB_ACTION:
            calls = []
            for c in request["body"]:
                action = ACTIONS[c["action"]]
                calls.append(
                    ActionCall(action, c["path_params"], action.input_model.model_validate(c["inputs"]))
                )
            return {"jobID": self._accept_calls(request["tenant"], calls, multi=True)}
        action = ACTIONS[request["action"]]
        call = ActionCall(action, request["path_params"], action.input_model.model_validate(request["body"]))
        return {"jobID": self._accept_calls(request["tenant"], [call], multi=False)}

    def _accept_calls(self, tenant_id: str, calls: list[ActionCall], multi: bool) -> str:
        svc = self._services()
        if not multi:
            (call,) = calls
            return use_cases.submit(svc, tenant_id, call.action, call.path_params, call.inputs).job_id
        return use_cases.submit_multi(svc, tenant_id, calls).job_id

    # -- /1/job/status|result/{jobID} ------------------------------------------------------
    def _read(
        self, event: dict[str, Any], job_id: str, wait: bool, remaining_s: Callable[[], float]
    ) -> tuple[int, Any, dict[str, str]]:
        tenant_id = self._authenticate(read_request(event))
        svc = self._services()
        try:
            if wait:
                tree = use_cases.wait(svc, tenant_id, job_id, self._wait_s(remaining_s))
            else:
                tree = use_cases.view(svc, tenant_id, job_id)
        except NotFound as exc:
            raise HavenError(7001, exc.message) from exc
        public = lambda job: use_cases.public_view(svc, job)  # noqa: E731
        return 200, bodies.status_body(tree.job.job_id, tree.status, tree.actions, public), {}

    @staticmethod
    def _wait_s(remaining_s: Callable[[], float]) -> float:
        return max(0.0, min(float(use_cases.MAX_WAIT_S), remaining_s() - _ANSWER_MARGIN_S))
