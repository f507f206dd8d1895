"""Files over real HTTP: a file larger than API Gateway's 10 MB request limit goes to S3 with an
upload form, and the API then describes it."""

from __future__ import annotations

import hashlib
import os

import requests

from asyncjobs.jobs.ids import new_file_id

SIZE = 11 * 1024 * 1024  # over API Gateway's 10 MB and Lambda's 6 MB


def test_a_file_over_10_mb_uploads_with_its_form_and_is_described(api):
    # Given an upload form for a file of a declared type
    slot = api.request(
        "POST", f"/v2/tenants/{api.tenant}/files", json={"name": "big.bin", "content_type": "application/zip"}
    )
    assert slot.status == 201, slot.text
    form = slot.body["upload"]
    assert form["method"] == "POST" and slot.body["max_bytes"] >= SIZE

    # When the caller posts the file straight to S3 with it (no API key: the form is the grant)
    data = os.urandom(SIZE)
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("big.bin", data)}, timeout=120)
    assert sent.status_code in (200, 201, 204), sent.text

    # Then the API reports the file, with its full size and the declared type
    path = f"/v2/tenants/{api.tenant}/files/{slot.body['file_id']}"
    got = api.request("GET", path)
    assert got.status == 200, got.text
    assert got.body["size_bytes"] == SIZE and got.body["content_type"] == "application/zip"
    assert got.body["name"] == "big.bin" and got.body["expires_at"] > got.body["uploaded_at"]
    # And the stored bytes are the ones sent (read back with the stack's own S3, local stack only)
    if api.stack is not None:
        s3 = api.stack.boto3_client("s3")
        bucket = api.stack.state["outputs"]["ResultsBucketName"]
        stored = s3.get_object(Bucket=bucket, Key=f"uploads/{api.tenant}/{slot.body['file_id']}")[
            "Body"
        ].read()
        assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()


def test_an_unknown_file_is_a_404_and_the_form_is_refused_without_a_key(api):
    unknown = api.request("GET", f"/v2/tenants/{api.tenant}/files/{new_file_id()}")
    assert unknown.status == 404 and unknown.body["error"]["code"] == "not_found"
    anonymous = requests.post(f"{api.base_url}/v2/tenants/{api.tenant}/files", timeout=10)
    assert anonymous.status_code == 401


def test_a_file_over_10_mb_is_processed_by_an_action_and_its_large_result_downloaded(api):
    # Given an 11 MB text file uploaded with its form
    text = ("The quick brown fox jumps over the lazy dog. " * 40 + "\n") * (SIZE // 1841 + 1)
    data = text.encode()
    slot = api.request("POST", f"/v2/tenants/{api.tenant}/files", json={"name": "big.txt"})
    form = slot.body["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("big.txt", data)}, timeout=120)
    assert sent.status_code in (200, 201, 204) and len(data) > 10 * 1024 * 1024

    # When extracttext runs on it (sync mode)
    run = api.run("/extracttext", {"file": slot.body["file_id"]}, headers={"Prefer": "wait=25"})
    if run.status == 202:  # a slow machine: wait on the job instead
        run = api.request("GET", run.headers["Location"], headers={"Prefer": "wait=25"})
    assert run.status == 200 and run.body["status"] == "succeeded", run.text

    # Then its result, too large for the job's item, comes back as a file with a download URL
    file = run.body["result_file"]
    download = requests.get(file["download_url"], timeout=120)
    assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == file["sha256"]
    (document,) = download.json()["document"]
    assert document["content"] == text and document["content_type"] == "text/plain"
