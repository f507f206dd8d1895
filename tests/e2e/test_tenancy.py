"""Tenant isolation and idempotent runs over real HTTP on the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
import requests

from asyncjobs.tenancy.tenants import Tenants
from tests.support import ROOT

RUN, STATUS, OTHERS_JOB = "run", "status", "other tenant's job id"

# What each caller gets for each request on tenant A's paths.
EXPECTED = {
    "no key": {RUN: 401, STATUS: 401, OTHERS_JOB: 401},
    "bad key": {RUN: 401, STATUS: 401, OTHERS_JOB: 401},
    "revoked key": {RUN: 401, STATUS: 401, OTHERS_JOB: 401},
    "other tenant's key": {RUN: 403, STATUS: 403, OTHERS_JOB: 403},
    "own key": {RUN: 202, STATUS: 200, OTHERS_JOB: 404},
}


def _start_job(api, tenant, key):
    reply = requests.post(
        f"{api.base_url}/v2/tenants/{tenant}/diagnostic/run",
        json={},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    return reply.json()["job_id"]


@pytest.fixture(scope="module")
def world(api, local):
    tenants = Tenants(local.boto3_client("dynamodb"), local.state["outputs"]["TenantsTableName"])
    key_a, key_b = local.create_key("iso-a"), local.create_key("iso-b")
    revoked = local.create_key("iso-a")
    tenants.revoke_key("iso-a", revoked.split("_")[1])
    job_a, job_b = _start_job(api, "iso-a", key_a), _start_job(api, "iso-b", key_b)
    callers = {
        "no key": None,
        "bad key": "ajk_aaaaaaaaaa_" + "A" * 43,
        "revoked key": revoked,
        "other tenant's key": key_b,
        "own key": key_a,
    }
    return {"callers": callers, "job_a": job_a, "job_b": job_b, "keys": [key_a, key_b, revoked]}


@pytest.mark.parametrize("caller", list(EXPECTED))
@pytest.mark.parametrize("request_kind", [RUN, STATUS, OTHERS_JOB])
def test_isolation_matrix(api, world, caller, request_kind):
    key = world["callers"][caller]
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    base = f"{api.base_url}/v2/tenants/iso-a/diagnostic"
    if request_kind == RUN:
        reply = requests.post(f"{base}/run", json={}, headers=headers, timeout=10)
    else:
        job = world["job_a"] if request_kind == STATUS else world["job_b"]
        reply = requests.get(f"{base}/status", params={"job_id": job}, headers=headers, timeout=10)

    assert reply.status_code == EXPECTED[caller][request_kind], reply.text
    if caller == "no key":
        # API Gateway itself refuses a request without the identity source (no function runs).
        assert reply.json() == {"message": "Unauthorized"}
    elif reply.status_code == 401:
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="asyncjobs", error="invalid_token"'
        assert reply.json()["error"]["code"] == "unauthorized"
    elif reply.status_code == 403:
        assert reply.json()["error"]["code"] == "forbidden"
    elif reply.status_code == 404:
        # exactly what an id that never existed gets: nothing leaks about the other tenant's job
        unknown = requests.get(
            f"{base}/status",
            params={"job_id": "0190aaaa-0000-7000-8000-000000000000"},
            headers=headers,
            timeout=10,
        )
        assert reply.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"


def test_keys_and_authorization_never_reach_the_logs(api, world, local):
    # after the whole matrix (and every other test so far) ran against this stack; the start-up
    # banner, which shows the demo key on purpose, is not a log line
    log = local.log().split("Ctrl-C stops everything.", 1)[1]
    assert "Bearer" not in log and "authorization" not in log.lower()
    for key in world["keys"]:
        assert key not in log
        assert key.split("_", 2)[2] not in log  # not even the secret part


def test_idempotent_run_replays_the_first_202(api):
    headers = {"Idempotency-Key": "order-1001"}
    first = api.run("/diagnostic", {"echo": {"n": 1}}, headers=headers)
    again = api.run("/diagnostic", {"echo": {"n": 1}}, headers=headers)
    assert first.status == again.status == 202
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers


def test_idempotency_key_with_another_body_is_422(api):
    headers = {"Idempotency-Key": "order-1002"}
    assert api.run("/diagnostic", {"echo": {"n": 1}}, headers=headers).status == 202
    reply = api.run("/diagnostic", {"echo": {"n": 2}}, headers=headers)
    assert reply.status == 422
    assert "Idempotency-Key" in reply.body["error"]["message"]


def test_idempotency_keys_are_per_tenant(api, local):
    other = requests.post(
        f"{api.base_url}/v2/tenants/idem-other/diagnostic/run",
        json={},
        headers={
            "Authorization": f"Bearer {local.create_key('idem-other')}",
            "Idempotency-Key": "shared-key",
        },
        timeout=10,
    )
    mine = api.run("/diagnostic", {}, headers={"Idempotency-Key": "shared-key"})
    assert other.status_code == mine.status == 202
    assert other.json()["job_id"] != mine.body["job_id"]


def test_concurrent_requests_with_one_key_start_one_job(api):
    headers = {"Idempotency-Key": "burst-1", "Authorization": f"Bearer {api.key}"}
    url = f"{api.base_url}/v2/tenants/{api.tenant}/diagnostic/run"
    barrier = threading.Barrier(8)
    replies = []

    def send():
        barrier.wait()
        replies.append(requests.post(url, json={"echo": {"burst": 1}}, headers=headers, timeout=30))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    codes = sorted(r.status_code for r in replies)
    assert set(codes) <= {202, 409}, codes
    job_ids = {r.json()["job_id"] for r in replies if r.status_code == 202}
    assert len(job_ids) == 1  # every accepted reply names the same job
    for r in replies:
        if r.status_code == 409:
            assert r.headers["Retry-After"] == "1"


def test_oversized_body_is_413(api):
    reply = api.run("/diagnostic", {"echo": {"blob": "x" * (300 * 1024)}})
    assert reply.status == 413
    assert reply.body["error"]["code"] == "payload_too_large"


def test_too_long_string_is_422(api):
    reply = api.run("/designs/d-1/proposal_pdf", {"customer": {"name": "x" * 201}})
    assert reply.status == 422
    fields = [d["field"] for d in reply.body["error"]["details"]]
    assert "customer.name" in fields


def _admin(local, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.admin",
            "--local",
            "--state",
            str(local.workdir / "state.json"),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "jobs")]),
        },
    )


def test_admin_command_manages_tenants_and_keys(api, local):
    assert _admin(local, "create-tenant", "cli-co").returncode == 0
    again = _admin(local, "create-tenant", "cli-co")
    assert again.returncode == 1 and "already exists" in again.stderr

    created = _admin(local, "--json", "create-key", "cli-co", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    url = f"{api.base_url}/v2/tenants/cli-co/jobs"
    assert (
        requests.get(url, headers={"Authorization": f"Bearer {key['api_key']}"}, timeout=10).status_code
        == 200
    )

    listed = _admin(local, "--json", "list-keys", "cli-co")
    assert key["api_key"] not in listed.stdout  # shown once, at creation, never again
    assert [k["key_id"] for k in json.loads(listed.stdout)["keys"]] == [key["key_id"]]

    assert _admin(local, "revoke-key", "cli-co", key["key_id"]).returncode == 0
    assert json.loads(_admin(local, "--json", "list-keys", "cli-co").stdout)["keys"][0]["active"] is False

    missing = _admin(local, "create-key", "no-such-tenant")
    assert missing.returncode == 1 and "create it first" in missing.stderr
