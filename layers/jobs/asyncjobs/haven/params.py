"""A Haven request's parameters and the action inputs made of them.

Haven took parameters from the query string (GET) or a form body (POST, urlencoded or multipart,
files as multipart fields), every value a string. Here they are merged (query first, then form),
`apikey` taken out, and validated by the action's own input model, the one `/v2` uses: a value is
given to pydantic as the string it is (lax mode turns "5" into 5 and "true" into True), except
that a JSON object or array is parsed for a field that is not a string (within the limits of the
`/v2` body parser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from asyncjobs.haven.errors import HavenError
from asyncjobs.http.gate import BodyRefused, parse_json_body
from asyncjobs.jobs.ids import PATH_PARAM_PATTERN, is_file_id

if TYPE_CHECKING:  # the actions and pydantic are imported by the routes that submit a job only
    from pydantic import ValidationError

    from asyncjobs.actions.base import Action, ActionInput

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
VERSIONS = ("v1",)
MAX_JOB_JSON_CHARS = 256 * 1024  # the `job` field: as large as a /v2 JSON body may be
_PATH_PARAM = re.compile(PATH_PARAM_PATTERN)


@dataclass
class HavenRequest:
    fields: dict[str, list[str]]
    files: dict[str, list[Any]] = field(default_factory=dict)  # field -> [forms.UploadedFile]

    def first(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


def read_request(event: dict[str, Any]) -> HavenRequest:
    """Query string and form body (POST), or HavenError 4012/4015/4010."""
    fields: dict[str, list[str]] = parse_qs(event.get("rawQueryString") or "", keep_blank_values=True)
    files: dict[str, list[Any]] = {}
    if event.get("body"):
        headers = event.get("headers") or {}
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in FORM_TYPES:
            raise HavenError(
                4015, "Send parameters in the query string, or as a urlencoded or multipart form body."
            )
        # Imported here: GET requests (status, result) never pay for the form parser.
        from asyncjobs.http.forms import MAX_FORM_BYTES, parse_form

        body = event["body"]
        size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
        if size > MAX_FORM_BYTES:
            raise HavenError(
                4012,
                f"The request body is about {size} bytes; the limit is {MAX_FORM_BYTES}. Upload larger "
                "files through an upload slot (see the README) and pass their id.",
            )
        form = parse_form(event)
        for name, values in form.fields.items():
            fields.setdefault(name, []).extend(values)
        files = {name: list(found) for name, found in form.files.items()}
    return HavenRequest(fields, files)


# Names Haven's own client uses for actions this service serves under their seed names
# (`HODApps.HIGHLIGHT_TEXT` in the public Python client is "highlighttext").
ALIASES = {"highlighttext": "highlight"}


def find_action(name: str, version: str) -> Action:
    from asyncjobs.actions.registry import ACTIONS

    action = ACTIONS.get(ALIASES.get(name, name))
    if action is None:
        raise HavenError(4004, f"No action {name!r}. Actions: {', '.join(sorted(ACTIONS))}.")
    if version not in VERSIONS:
        raise HavenError(4005, f"Action {name!r} has no version {version!r}; use {', '.join(VERSIONS)}.")
    return action


def _field_text(err: dict[str, Any]) -> str:
    return ".".join(str(p) for p in err.get("loc", ())) or "body"


def _invalid(action: Action, exc: ValidationError) -> HavenError:
    errors = exc.errors()
    missing = [_field_text(e) for e in errors if e.get("type") == "missing"]
    if missing:
        return HavenError(4008, f"{action.name}: missing {', '.join(repr(m) for m in missing)}")
    parts = []
    for err in errors:
        name = _field_text(err)
        if err.get("type") == "extra_forbidden":
            parts.append(f"'{name}' is not a parameter of {action.name}")
        else:
            parts.append(f"'{name}' {err.get('msg', 'is invalid')}")
    return HavenError(4006, "; ".join(parts))


def _is_text_field(model: type[ActionInput], name: str) -> bool:
    info = model.model_fields.get(name)
    return info is None or info.annotation is str


def inputs_from_strings(action: Action, params: dict[str, list[str]]) -> tuple[dict[str, str], ActionInput]:
    """Path parameters and validated inputs from form or query values (one value per name)."""
    values: dict[str, Any] = {}
    for name, given in params.items():
        if len(given) != 1:
            raise HavenError(4006, f"'{name}' is given {len(given)} times; give it once")
        value = given[0]
        if not _is_text_field(action.input_model, name) and value.lstrip()[:1] in ("{", "["):
            try:
                value = parse_json_body(value)
            except BodyRefused as exc:
                raise HavenError(4006, f"'{name}' is not valid JSON: {exc.message}") from exc
        values[name] = value
    return _validated(action, values)


def _validated(action: Action, values: dict[str, Any]) -> tuple[dict[str, str], ActionInput]:
    path_params = {}
    for name in action.path_params:
        value = values.pop(name, None)
        if value is None:
            raise HavenError(4008, f"{action.name}: missing '{name}'")
        if not isinstance(value, str) or not _PATH_PARAM.match(value):
            raise HavenError(4006, f"'{name}' must be 1-128 letters, digits, '_', '.', ':' or '-'")
        path_params[name] = value
    from pydantic import ValidationError

    try:
        return path_params, action.input_model.model_validate(values)
    except ValidationError as exc:
        raise _invalid(action, exc) from exc


@dataclass(frozen=True)
class JobAction:
    """One action of a `/1/job` request, before its file parameters are resolved."""

    action: Action
    params: dict[str, Any]

    def file_refs(self, files: dict[str, list[Any]]) -> dict[str, str]:
        """Its parameters whose value names a file field of the request: param -> field. Only
        parameters that take a file id qualify, so text that happens to read "file1" stays text."""
        return {
            name: value
            for name, value in self.params.items()
            if isinstance(value, str) and value in files and is_file_field(self.action.input_model, name)
        }

    def validated(self, refs: dict[str, str], file_ids: dict[str, str]) -> tuple[dict[str, str], ActionInput]:
        """Validated inputs, each file reference (`refs`, from `file_refs`) replaced by the id of
        the file stored from that field (`file_ids`: field -> file id)."""
        for name, value in self.params.items():
            named_no_file = isinstance(value, str) and name not in refs and not is_file_id(value)
            if named_no_file and is_file_field(self.action.input_model, name):
                raise HavenError(
                    4006,
                    f"'{name}' is {value!r}: name a file field of this form (e.g. 'file1') or the "
                    "file_id of an uploaded file",
                )
        values = {k: file_ids[refs[k]] if k in refs else v for k, v in self.params.items()}
        return _validated(self.action, values)


def is_file_field(model: type[ActionInput], name: str) -> bool:
    """Whether the input takes the id of an uploaded file (a `FileId` field)."""
    from asyncjobs.actions.base import FileRef

    info = model.model_fields.get(name)
    return info is not None and any(isinstance(m, FileRef) for m in info.metadata)


def read_job(text: str | None, max_actions: int) -> list[JobAction]:
    """The `job` field of `/1/job`: `{"actions": [{"name", "version", "params"}]}`, or 4010/4004/4005."""
    if text is None:
        raise HavenError(4008, 'missing \'job\': a JSON object {"actions": [{"name", "version", "params"}]}')
    if len(text) > MAX_JOB_JSON_CHARS:
        raise HavenError(4012, f"'job' is {len(text)} characters; the limit is {MAX_JOB_JSON_CHARS}")
    try:
        job = parse_json_body(text)
    except BodyRefused as exc:
        raise HavenError(4010, f"'job' is not valid JSON: {exc.message}") from exc
    actions = job.get("actions") if isinstance(job, dict) else None
    if not isinstance(actions, list) or not actions:
        raise HavenError(4010, "'job' must be an object whose 'actions' is a non-empty list")
    if len(actions) > max_actions:
        raise HavenError(4010, f"'job' has {len(actions)} actions; the limit is {max_actions}")
    found = []
    for n, entry in enumerate(actions):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise HavenError(4010, f"actions[{n}] must be an object with a 'name' string")
        version = entry.get("version", "v1")
        params = entry.get("params", {})
        if not isinstance(version, str) or not isinstance(params, dict):
            raise HavenError(4010, f"actions[{n}]: 'version' must be a string and 'params' an object")
        found.append(JobAction(find_action(entry["name"], version), params))
    return found
