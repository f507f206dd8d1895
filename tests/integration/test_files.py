"""Uploaded files through the handlers, routed as template.yaml routes them, against moto: upload
forms, what was stored, the submit-time check, and an action's read of a file."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
import requests
from pydantic import BaseModel

from asyncjobs.actions.base import ActionFailed, ActionInput, FileId
from asyncjobs.errors import InvalidRequest
from asyncjobs.jobs import uploads
from asyncjobs.jobs.files import StoredUpload
from asyncjobs.jobs.ids import FILE_ID_PATTERN, new_file_id
from asyncjobs.jobs.models import Job, JobStatus
from asyncjobs.jobs.runner import AttemptContext
from asyncjobs.jobs.uploads import (
    FILE_RETENTION_DAYS,
    MAX_UPLOAD_BYTES,
    check_files,
    file_refs,
)

FILES = "/v2/tenants/{}/files"


def _policy(form: dict) -> dict:
    return json.loads(base64.b64decode(form["fields"]["policy"]))


def _upload(form: dict, data: bytes, filename: str = "f.bin", content_type: str | None = None) -> int:
    """Posts the file with its upload form, as a browser or curl would (fields first, file last)."""
    fields = dict(form["fields"])
    if content_type is not None and "Content-Type" not in fields:
        fields["Content-Type"] = content_type
    resp = requests.post(form["url"], data=fields, files={"file": (filename, data)}, timeout=30)
    return resp.status_code


def test_post_files_answers_an_upload_form_for_a_new_file_id(harness):
    # Given no body at all, when a tenant asks for an upload form
    reply = harness.request("POST", FILES.format("acme"))

    # Then it gets a new file id and a presigned SigV4 POST for its key, limited to the maximum size
    assert reply.status == 201, reply.body
    doc = reply.body
    assert re.fullmatch(FILE_ID_PATTERN, doc["file_id"])
    assert doc["max_bytes"] == MAX_UPLOAD_BYTES
    assert doc["upload"]["method"] == "POST"
    fields = doc["upload"]["fields"]
    assert fields["key"] == f"uploads/acme/{doc['file_id']}"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and "x-amz-signature" in fields
    policy = _policy(doc["upload"])
    assert ["content-length-range", 0, MAX_UPLOAD_BYTES] in policy["conditions"]
    assert {"bucket": harness.env["RESULTS_BUCKET"]} in policy["conditions"]
    # And the form's expiry is stated, in ISO 8601 UTC, 15 minutes out like the policy's
    assert doc["expires_at"].endswith("Z")
    assert policy["expiration"][:16] == doc["expires_at"][:16]
    # And two forms never share an id
    assert harness.request("POST", FILES.format("acme")).body["file_id"] != doc["file_id"]


def test_declared_name_type_and_size_are_fixed_by_the_form(harness):
    body = {"name": "résumé 1.pdf", "content_type": "application/pdf", "size_bytes": 1234}

    reply = harness.request("POST", FILES.format("acme"), body=body)

    assert reply.status == 201, reply.body
    form = reply.body["upload"]
    assert reply.body["max_bytes"] == 1234
    assert form["fields"]["Content-Type"] == "application/pdf"
    conditions = _policy(form)["conditions"]
    assert ["content-length-range", 0, 1234] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"x-amz-meta-name": form["fields"]["x-amz-meta-name"]} in conditions


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size_bytes": MAX_UPLOAD_BYTES + 1}, "size_bytes"),
        ({"size_bytes": -1}, "size_bytes"),
        ({"content_type": "not a type"}, "content_type"),
        ({"name": ""}, "name"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_upload_request_is_a_422_naming_the_field(harness, body, field):
    reply = harness.request("POST", FILES.format("acme"), body=body)

    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_failed"
    assert [d["field"] for d in reply.body["error"]["details"]] == [field]


def test_an_uploaded_file_is_described_by_get(harness):
    # Given a file uploaded with its form (moto serves the POST in process, as S3 would)
    form = harness.request("POST", FILES.format("acme"), body={"name": "notes.txt"}).body
    data = b"hello \x00\xff world\n" * 1000
    assert _upload(form["upload"], data, content_type="text/plain") == 204
    before = time.time()

    # When the tenant asks about it
    reply = harness.request("GET", f"{FILES.format('acme')}/{form['file_id']}")

    # Then its size, type, name, upload time and deletion time are told
    assert reply.status == 200, reply.body
    doc = reply.body
    assert doc["file_id"] == form["file_id"] and doc["size_bytes"] == len(data)
    assert doc["content_type"] == "text/plain" and doc["name"] == "notes.txt"
    assert doc["uploaded_at"].endswith("Z") and doc["expires_at"].endswith("T00:00:00.000Z")
    days = (_epoch(doc["expires_at"]) - before) / 86400
    assert FILE_RETENTION_DAYS <= days <= FILE_RETENTION_DAYS + 1


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_file_not_uploaded_unknown_or_junk_is_a_404(harness):
    slot = harness.request("POST", FILES.format("acme")).body["file_id"]  # a form, never used
    for file_id in (slot, new_file_id(), "file_123", "not-a-file-id"):
        reply = harness.request("GET", f"{FILES.format('acme')}/{file_id}")
        assert reply.status == 404, (file_id, reply.body)
        assert reply.body["error"]["code"] == "not_found" and file_id in reply.body["error"]["message"]
    assert harness.request("GET", f"{FILES.format('acme')}/{'x' * 65}").status == 422


def test_another_tenants_files_are_out_of_reach(harness):
    # Given a file acme uploaded
    file_id = harness.services().files.put_upload("acme", b"secret", "s.txt", "text/plain")
    path = f"{FILES.format('acme')}/{file_id}"

    # Then another tenant's key is refused on acme's paths, and no key at all is a 401
    assert harness.request("GET", path, key=harness.keys["globex"]).status == 403
    assert harness.request("POST", FILES.format("acme"), key=harness.keys["globex"]).status == 403
    assert harness.request("GET", path, key=None).status == 401
    assert harness.request("POST", FILES.format("acme"), key=None).status == 401
    # And under its own path, globex does not find acme's file id
    assert harness.request("GET", f"{FILES.format('globex')}/{file_id}").status == 404
    assert harness.request("GET", path).status == 200


def test_put_upload_stores_a_file_that_came_inside_a_request(harness):
    svc = harness.services()

    file_id = svc.files.put_upload("acme", b"%PDF-1.4 ...", "Ünïcode name " + "x" * 400, "application/pdf")

    assert re.fullmatch(FILE_ID_PATTERN, file_id)
    head = harness.s3.head_object(Bucket=harness.env["RESULTS_BUCKET"], Key=f"uploads/acme/{file_id}")
    assert head["ContentType"] == "application/pdf"
    doc = harness.request("GET", f"{FILES.format('acme')}/{file_id}").body
    assert doc["size_bytes"] == 12 and doc["name"] == ("Ünïcode name " + "x" * 400)[:255]


def test_files_are_kept_as_long_as_the_bucket_lifecycle_says(translated):
    # The retention the API states is the one the template configures.
    rules = translated.cfn["Resources"]["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [r["ExpirationInDays"] for r in rules if r["Status"] == "Enabled"] == [FILE_RETENTION_DAYS]
    assert all("Prefix" not in r and "Filter" not in r for r in rules), "every object expires"


def test_expiry_is_the_midnight_after_the_retention_days():
    stored = StoredUpload("file_x", 1, "a/b", uploaded_at=1_700_000_000.0, name=None)  # 22:13 UTC
    assert uploads.expires_at(stored) == (1_700_000_000 // 86400 + FILE_RETENTION_DAYS + 1) * 86400


# -- the submit-time check --------------------------------------------------------------------


class Page(BaseModel):
    scan: FileId
    label: str = ""


class WithFiles(ActionInput):
    document: FileId
    extra: FileId | None = None
    attachments: list[FileId] = []
    pages: list[Page] = []
    named: dict[str, FileId] = {}
    title: str = "file_" + "0" * 32  # a plain string that looks like an id is not a file


def test_file_id_is_documented_in_the_input_schema():
    schema = WithFiles.model_json_schema()
    document = schema["properties"]["document"]
    assert (
        document["pattern"] == FILE_ID_PATTERN
        and "POST /v2/tenants/{tenant_id}/files" in document["description"]
    )
    assert schema["properties"]["attachments"]["items"]["pattern"] == FILE_ID_PATTERN


def test_file_refs_finds_every_file_field_by_its_type():
    a, b, c, d, e = (new_file_id() for _ in range(5))
    inputs = WithFiles(document=a, attachments=[b, c], pages=[{"scan": d}], named={"cover": e})

    assert file_refs(inputs) == [
        ("document", a),
        ("attachments.0", b),
        ("attachments.1", c),
        ("pages.0.scan", d),
        ("named.cover", e),
    ]


def test_check_files_passes_when_every_file_is_uploaded(harness):
    svc = harness.services()
    a, b = (svc.files.put_upload("acme", b"x", "x", "text/plain") for _ in range(2))

    check_files(svc, "acme", WithFiles(document=a, attachments=[b, a]))


def test_check_files_refuses_a_missing_file_with_a_422_naming_the_field(harness):
    svc = harness.services()
    mine = svc.files.put_upload("acme", b"x", "x", "text/plain")
    theirs = svc.files.put_upload("globex", b"x", "x", "text/plain")
    never = new_file_id()

    with pytest.raises(InvalidRequest) as caught:
        check_files(svc, "acme", WithFiles(document=mine, extra=theirs, pages=[{"scan": never}]))

    error = caught.value
    assert error.status == 422 and error.code == "file_not_found"
    assert f"`extra` names file {theirs}" in error.message
    assert f"`pages.0.scan` names file {never}" in error.message
    assert "`document`" not in error.message


def test_check_files_refuses_a_file_over_the_limit(harness, monkeypatch):
    svc = harness.services()
    file_id = svc.files.put_upload("acme", b"0123456789", "x", "text/plain")
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 9)

    with pytest.raises(InvalidRequest) as caught:
        check_files(svc, "acme", WithFiles(document=file_id))

    assert caught.value.code == "file_too_large" and "`document`" in caught.value.message


# -- an action reads its files ----------------------------------------------------------------


def _context(harness, tenant: str = "acme") -> AttemptContext:
    now = time.time()
    job = Job(
        tenant,
        "0190a000-0000-7000-8000-000000000001",
        "diagnostic",
        JobStatus.IN_PROGRESS,
        now,
        int(now) + 60,
    )
    return AttemptContext(harness.services(), job, now + 60)


def test_read_file_returns_the_uploaded_bytes(harness):
    form = harness.request("POST", FILES.format("acme")).body
    data = bytes(range(256)) * 64
    assert _upload(form["upload"], data) == 204

    assert _context(harness).read_file(form["file_id"]) == data


def test_read_file_of_an_unknown_or_another_tenants_file_fails_the_action(harness):
    theirs = harness.services().files.put_upload("globex", b"x", "x", "text/plain")
    for file_id in (new_file_id(), theirs, "junk"):
        with pytest.raises(ActionFailed) as caught:
            _context(harness).read_file(file_id)
        assert caught.value.code == "file_not_found" and file_id in caught.value.message


def test_read_file_over_the_limit_fails_the_action(harness, monkeypatch):
    # moto accepts uploads over a form's limit (S3 refuses them): the reader checks the size too.
    form = harness.request("POST", FILES.format("acme"), body={"size_bytes": 10}).body
    assert _upload(form["upload"], b"x" * 11) == 204
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 10)

    with pytest.raises(ActionFailed) as caught:
        _context(harness).read_file(form["file_id"])

    assert caught.value.code == "file_too_large" and "11 bytes" in caught.value.message


def test_an_action_may_read_less_than_the_upload_limit(harness):
    # An action reads only what its memory can process (extracttext: 25 MB): a larger file fails
    # the action at once with `file_too_large`, naming the action's limit.
    form = harness.request("POST", FILES.format("acme"), body={}).body
    assert _upload(form["upload"], b"y" * 100) == 204
    assert _context(harness).read_file(form["file_id"], max_bytes=100) == b"y" * 100
    with pytest.raises(ActionFailed) as caught:
        _context(harness).read_file(form["file_id"], max_bytes=99)
    assert caught.value.code == "file_too_large" and "the limit is 99 bytes" in caught.value.message
