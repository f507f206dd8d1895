"""Keys, the authorizer's answers and idempotency, through the handlers against moto."""

from __future__ import annotations

import threading
import time

from asyncjobs.tenancy.tenants import key_hash


def test_keys_are_stored_only_as_hashes(harness):
    items = harness.ddb.scan(TableName=harness.env["TENANTS_TABLE"])["Items"]
    text = repr(items)
    for key in harness.keys.values():
        assert key not in text and key.split("_", 2)[2] not in text
        assert key_hash(key) in text


def test_a_tenant_can_rotate_keys(harness):
    old = harness.keys["acme"]
    new = harness.tenants.create_key("acme", "rotation")[1]
    assert harness.run("acme", "/diagnostic", {}, key=new).status == 202
    assert harness.run("acme", "/diagnostic", {}, key=old).status == 202  # both work until revoked
    harness.tenants.revoke_key("acme", old.split("_")[1])
    harness.authorizers.clear_cache()  # as if the 300 s authorizer cache had expired
    assert harness.run("acme", "/diagnostic", {}, key=old).status == 401
    assert harness.run("acme", "/diagnostic", {}, key=new).status == 202


def test_authorizer_outage_is_not_cached(harness):
    harness.fail_calls("dynamodb", "GetItem", times=1, code="InternalServerError")
    assert harness.run("acme", "/diagnostic", {}).status == 500  # API Gateway's answer to a failed authorizer
    assert harness.run("acme", "/diagnostic", {}).status == 202  # the key works again at once


def test_idempotency_retry_while_the_first_is_in_flight_is_409(harness):
    # Hold the first request inside SendMessage while a second one with the same key arrives.
    from asyncjobs.aws import clients as aws

    entered, release = threading.Event(), threading.Event()

    def slow_send(**_):
        entered.set()
        release.wait(10)

    aws.client("sqs").meta.events.register("before-call.sqs.SendMessage", slow_send)
    headers = {"Idempotency-Key": "k-409"}
    first = []
    t = threading.Thread(target=lambda: first.append(harness.run("acme", "/diagnostic", {}, headers=headers)))
    t.start()
    assert entered.wait(10)
    second = harness.run("acme", "/diagnostic", {}, headers=headers)
    release.set()
    t.join()

    assert second.status == 409
    assert second.body["error"]["code"] == "conflict" and second.headers["Retry-After"] == "1"
    assert first[0].status == 202
    third = harness.run("acme", "/diagnostic", {}, headers=headers)
    assert third.status == 202 and third.body["job_id"] == first[0].body["job_id"]


def test_failed_first_request_does_not_block_its_idempotency_key(harness):
    harness.fail_calls("sqs", "SendMessage", times=1, code="ServiceUnavailable")
    headers = {"Idempotency-Key": "k-retry"}
    assert harness.run("acme", "/diagnostic", {}, headers=headers).status == 503
    retry = harness.run("acme", "/diagnostic", {}, headers=headers)
    assert retry.status == 202 and "Idempotent-Replayed" not in retry.headers


def test_idempotency_key_format_is_checked(harness):
    reply = harness.run("acme", "/diagnostic", {}, headers={"Idempotency-Key": "x" * 300})
    assert reply.status == 422 and "idempotency-key" in reply.body["error"]["message"].lower()


def test_idempotency_records_expire_after_24_hours(harness):
    harness.run("acme", "/diagnostic", {}, headers={"Idempotency-Key": "k-ttl"})
    (item,) = harness.ddb.scan(TableName=harness.env["IDEMPOTENCY_TABLE"])["Items"]
    ttl = int(item["expiration"]["N"]) - time.time()
    assert 24 * 3600 - 60 < ttl <= 24 * 3600
    assert item["id"]["S"].split("#")[0].endswith("accept__accept")  # a stable function name
    ttl_spec = harness.ddb.describe_time_to_live(TableName=harness.env["IDEMPOTENCY_TABLE"])
    assert ttl_spec["TimeToLiveDescription"]["AttributeName"] == "expiration"


def test_no_log_line_contains_a_key_or_authorization_value(harness, log_lines):
    key = harness.keys["acme"]
    harness.run("acme", "/diagnostic", {}, headers={"Idempotency-Key": "k-log"})
    harness.run("acme", "/diagnostic", {}, key="ajk_aaaaaaaaaa_" + "B" * 43)
    harness.run("globex", "/diagnostic", {}, key=key)
    harness.execute()
    lines = log_lines()
    assert len(lines) > 5
    text = "\n".join(map(str, lines))
    assert key not in text and key.split("_", 2)[2] not in text
    assert "B" * 43 not in text and "Bearer" not in text


def test_throttling_is_configured_on_the_api(translated):
    settings = translated.sam["Resources"]["JobsApi"]["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    params = translated.sam["Parameters"]
    assert (
        int(params["ThrottlingRateLimit"]["Default"]) > 0
        and int(params["ThrottlingBurstLimit"]["Default"]) > 0
    )
