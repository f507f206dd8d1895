"""Webhooks: the subscriptions API and signed, retried, logged delivery to real HTTP receivers.

The template's EventBridge rule and SQS queue drive the delivery function (harness.pump); the
retry schedule runs at time scale 0 (every retry at once) unless a test says otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from datetime import datetime

import pytest
from standardwebhooks.webhooks import Webhook

from tests.receiver import Answer, Receiver, closed_port_url
from tests.support import load_event

HOOKS = "/v2/tenants/acme/webhooks"


def _subscribe(harness, url, **extra):
    body = {"url": url, "events": ["job.succeeded", "job.failed"], **extra}
    reply = harness.request("POST", HOOKS, body=body)
    assert reply.status == 201, reply.body
    return reply.body


def _verify(secret, received):
    """What a receiver does: verify the raw body and headers with the standardwebhooks library."""
    return Webhook(secret).verify(received.body, received.headers)


def _deliveries(harness, sub_id, **query):
    reply = harness.request("GET", f"{HOOKS}/{sub_id}/deliveries", query=query)
    assert reply.status == 200, reply.body
    return reply.body["deliveries"]


def _assert_one_delivery_succeeded(harness, rx, sub_id, attempts):
    """Every request the receiver got carried one webhook-id, and the subscription's log holds one
    delivery, succeeded after `attempts` recorded attempts."""
    assert len({r.headers["webhook-id"] for r in rx.received}) == 1
    (delivery,) = _deliveries(harness, sub_id)
    assert delivery["status"] == "succeeded" and delivery["attempts"] == attempts


def test_create_shows_the_secret_once_and_never_passwords(harness):
    with Receiver() as rx:
        created = _subscribe(
            harness, rx.url, auth={"type": "basic", "username": "hook", "password": "s3cr3t-pw"}
        )
    assert created["secret"].startswith("whsec_")
    assert created["auth"] == {"type": "basic", "username": "hook"}
    fetched = harness.request("GET", f"{HOOKS}/{created['id']}").body
    listed = harness.request("GET", HOOKS).body["webhooks"]
    for doc in (fetched, listed[0]):
        text = json.dumps(doc)
        assert created["secret"] not in text and "s3cr3t-pw" not in text
    assert fetched["secrets"][0]["prefix"].startswith("whsec_")


def test_job_completion_is_delivered_signed_with_basic_auth(harness):
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url, auth={"type": "basic", "username": "hook", "password": "pw"})
        job_id = harness.submit(body={"echo": {"n": 7}})
        harness.execute()
        harness.pump()

    (got,) = rx.received
    payload = _verify(sub["secret"], got)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["job_id"] == job_id and payload["data"]["status"] == "succeeded"
    assert payload["data"]["tenant_id"] == "acme" and payload["data"]["action"] == "diagnostic"
    assert payload["data"]["result"]["echo"] == {"n": 7}
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"hook:pw").decode()
    assert got.headers["webhook-id"] == f"{job_id}.succeeded"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200 and delivery["last_latency_ms"] >= 0


def test_secret_headers_arrive_and_failed_jobs_carry_the_error(harness):
    with Receiver() as rx:
        sub = _subscribe(
            harness,
            rx.url,
            events=["job.failed"],
            auth={"type": "headers", "headers": {"X-Hook-Token": "tok-123"}},
        )
        harness.submit(body={})  # succeeds: not subscribed
        failed = harness.submit(body={"fail_with": "action_error"})
        harness.execute()
        harness.pump()
    (got,) = rx.received
    assert got.headers["x-hook-token"] == "tok-123"
    payload = _verify(sub["secret"], got)
    assert payload["type"] == "job.failed" and payload["data"]["job_id"] == failed
    assert payload["data"]["error"]["code"] == "diagnostic_failure"


def test_action_filter(harness):
    with Receiver() as rx:
        _subscribe(harness, rx.url, actions=["proposal_pdf"])
        harness.submit(body={})
        harness.execute()
        harness.pump()
    assert rx.received == []
    assert (
        harness.request(
            "POST", HOOKS, body={"url": rx.url, "events": ["job.failed"], "actions": ["teleport"]}
        ).status
        == 422
    )


def test_receiver_failing_then_succeeding_gets_one_attempt_each_with_the_same_id(harness):
    answers = [Answer(500), Answer(503), Answer(302, {"Location": "http://127.0.0.1:1/"}), Answer(200)]
    with Receiver(answers) as rx:
        sub = _subscribe(harness, rx.url)
        job_id = harness.submit()
        harness.execute()
        harness.pump()

    assert len(rx.received) == 4  # the 3xx was not followed: it is a failed attempt
    assert {r.headers["webhook-id"] for r in rx.received} == {f"{job_id}.succeeded"}
    for got in rx.received:
        _verify(sub["secret"], got)
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 4
    detail = harness.request("GET", f"{HOOKS}/{sub['id']}/deliveries/{delivery['id']}").body
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 503, 302, 200]
    assert detail["payload"]["data"]["job_id"] == job_id


def test_receiver_down_for_good_ends_exhausted_then_redelivered_on_demand(harness):
    down = closed_port_url()
    sub = _subscribe(harness, down)
    job_id = harness.submit()
    harness.execute()
    harness.pump()

    (delivery,) = _deliveries(harness, sub["id"], status="exhausted")
    assert delivery["attempts"] == 8 and delivery["next_attempt_at"] is None
    assert "ConnectionRefusedError" in delivery["last_error"]

    with Receiver() as rx:
        # the receiver is back, on a new URL
        assert harness.request("PATCH", f"{HOOKS}/{sub['id']}", body={"url": rx.url}).status == 200
        again = harness.request("POST", f"{HOOKS}/{sub['id']}/deliveries/{delivery['id']}/redeliver")
        assert again.status == 202
        harness.pump()
    (got,) = rx.received
    assert got.headers["webhook-id"] == f"{job_id}.succeeded"
    _verify(sub["secret"], got)
    assert _deliveries(harness, sub["id"])[0]["status"] == "succeeded"


def test_recover_redelivers_every_failed_delivery_since_a_time(harness):
    sub = _subscribe(harness, closed_port_url())
    since = time.time() - 1
    jobs = {harness.submit() for _ in range(3)}
    harness.execute()
    harness.pump()
    assert len(_deliveries(harness, sub["id"], status="exhausted")) == 3
    with Receiver() as rx:
        harness.request("PATCH", f"{HOOKS}/{sub['id']}", body={"url": rx.url})
        from datetime import UTC, datetime

        reply = harness.request(
            "POST",
            f"{HOOKS}/{sub['id']}/recover",
            body={"since": datetime.fromtimestamp(since, UTC).isoformat()},
        )
        assert reply.status == 202 and reply.body == {"requeued": 3, "next_cursor": None}
        harness.pump()
    assert {json.loads(r.body)["data"]["job_id"] for r in rx.received} == jobs


def test_410_gone_disables_the_subscription(harness):
    with Receiver([Answer(410)]) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        harness.pump()
        assert len(rx.received) == 1
        doc = harness.request("GET", f"{HOOKS}/{sub['id']}").body
        assert doc["enabled"] is False and "410" in doc["disabled_reason"]
        assert _deliveries(harness, sub["id"])[0]["status"] == "failed"
        harness.submit()  # later events are not delivered
        harness.execute()
        harness.pump()
        assert len(rx.received) == 1


def test_rotation_sends_both_signatures_during_the_overlap(harness):
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        rotated = harness.request(
            "POST", f"{HOOKS}/{sub['id']}/rotate-secret", body={"overlap_seconds": 3600}
        )
        assert rotated.status == 200
        new_secret = rotated.body["secret"]
        assert new_secret != sub["secret"]
        harness.submit()
        harness.execute()
        harness.pump()
    (got,) = rx.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    _verify(sub["secret"], got)  # receivers still on the old secret verify
    _verify(new_secret, got)  # and so do those already on the new one


def test_rotation_without_overlap_stops_the_old_secret(harness):
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        new_secret = harness.request(
            "POST", f"{HOOKS}/{sub['id']}/rotate-secret", body={"overlap_seconds": 0}
        ).body["secret"]
        harness.submit()
        harness.execute()
        harness.pump()
    (got,) = rx.received
    _verify(new_secret, got)
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        _verify(sub["secret"], got)


def test_ping(harness):
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        reply = harness.request("POST", f"{HOOKS}/{sub['id']}/ping")
        assert reply.status == 202
        harness.pump()
    (got,) = rx.received
    payload = _verify(sub["secret"], got)
    assert payload["type"] == "ping" and payload["data"]["subscription_id"] == sub["id"]
    assert ISO_UTC.match(payload["timestamp"]), payload  # as a job event's: UTC, milliseconds, Z


ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_times_are_iso_8601_utc_as_the_jobs_show_theirs(harness):
    # Given a subscription whose secret was rotated with an overlap, and a ping delivered
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        before = time.time()
        rotated = harness.request("POST", f"{HOOKS}/{sub['id']}/rotate-secret", body={"overlap_seconds": 60})
        assert rotated.status == 200, rotated.body
        pinged = harness.request("POST", f"{HOOKS}/{sub['id']}/ping").body
        harness.pump()

    # When the subscription and the delivery are read
    doc = harness.request("GET", f"{HOOKS}/{sub['id']}").body
    delivery = harness.request("GET", f"{HOOKS}/{sub['id']}/deliveries/{pinged['id']}").body

    # Then every time is ISO 8601 UTC with milliseconds (what the records keep: epoch seconds)
    old, new = doc["secrets"]
    times = [
        sub["created_at"],
        sub["updated_at"],
        sub["secrets"][0]["created_at"],
        doc["updated_at"],
        old["expires_at"],
        new["created_at"],
        rotated.body["previous_secrets_expire_at"],
        pinged["created_at"],
        pinged["next_attempt_at"],
        delivery["created_at"],
        *[a["at"] for a in delivery["attempt_log"]],
    ]
    assert all(ISO_UTC.match(t) for t in times), times
    assert new["expires_at"] is None and delivery["next_attempt_at"] is None  # succeeded
    expires = datetime.fromisoformat(old["expires_at"]).timestamp()
    announced = datetime.fromisoformat(rotated.body["previous_secrets_expire_at"]).timestamp()
    assert 59 < expires - before < 70 and abs(expires - announced) <= 0.002  # stored to the ms


def test_retry_after_is_honoured(harness, monkeypatch):
    monkeypatch.setenv("WEBHOOK_TIME_SCALE", "1")  # real time: look at the schedule, do not wait
    with Receiver([Answer(429, {"Retry-After": "120"})]) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        _step(harness)  # the event, its fan-out and the first attempt; the retry waits 120 s
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "pending" and delivery["last_status_code"] == 429
    next_attempt_at = datetime.fromisoformat(delivery["next_attempt_at"]).timestamp()
    assert 110 < next_attempt_at - time.time() <= 121  # not the schedule's 5 s
    attrs = harness.sqs.get_queue_attributes(
        QueueUrl=harness.env["WEBHOOK_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def _step(harness):
    """One round of every trigger, without waiting for delayed messages."""
    with contextlib.suppress(AssertionError):
        harness.pump(timeout=0.5)


def _take_event(harness):
    """The job event the template's rule matched, taken off it (to invoke the fan-out by hand)."""
    from devstack.lambda_runtime import aws_event, target_input

    (rule,) = harness.stack.rule_triggers
    (msg,) = harness.sqs.receive_message(QueueUrl=rule.queue_url, MaxNumberOfMessages=10)["Messages"]
    harness.sqs.delete_message(QueueUrl=rule.queue_url, ReceiptHandle=msg["ReceiptHandle"])
    return target_input(aws_event(json.loads(msg["Body"]), "us-east-1"), rule)


def test_crash_after_the_first_attempt_is_retried_not_dropped(harness):
    # The receiver gets the fan-out's POST, then writing the delivery fails for good (DynamoDB):
    # the fan-out fails, Lambda retries the event, and the attempt is made again, same webhook-id.
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        event = _take_event(harness)
        harness.fail_calls("dynamodb", "PutItem", times=4, code="InternalServerError")  # 4 tries
        assert harness._invoke("WebhookDeliveryFunction", event) == (False, None)
        assert len(rx.received) == 1 and _deliveries(harness, sub["id"]) == []

        ok, _ = harness._invoke("WebhookDeliveryFunction", event)  # Lambda's next try
        harness.pump()
    assert ok and len(rx.received) == 2
    assert rx.received[0].headers["webhook-id"] == rx.received[1].headers["webhook-id"]
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1


def test_crash_mid_retry_is_retried_not_dropped(harness):
    # The first attempt fails; the receiver gets the retry, then recording its result fails
    # (DynamoDB): the message comes back and the retry is made again, with the same webhook-id.
    with Receiver([Answer(500), Answer(200)]) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        harness.pump_rules()  # the fan-out: the first attempt, its result, the retry's message
        # UpdateItem calls of a retry: 1 claim, 2 record. Fail the first record.
        harness.fail_calls("dynamodb", "UpdateItem", times=1, code="InternalServerError", skip=1)
        harness.pump()
    assert len(rx.received) == 3
    _assert_one_delivery_succeeded(harness, rx, sub["id"], attempts=2)


def test_a_copy_of_the_event_during_the_first_attempt_makes_one_delivery_and_one_retry(harness):
    # Given a job event, and a copy of it fanned out while the receiver is answering the first
    # fan-out's POST (both found no delivery): both POST, the copy's write lands first
    from asyncjobs.webhooks.delivery import deliverer_from_env

    event, copies = [], []

    def copy_arrives():
        copies.append(deliverer_from_env().fan_out(event[0]))

    with Receiver([Answer(500, before=copy_arrives), Answer(500), Answer(200)]) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        event.append(_take_event(harness))
        with _counting("sqs", "SendMessage") as sent:
            first = deliverer_from_env().fan_out(event[0])
            harness.pump()

    # Then the first fan-out's write lost and queued nothing: one delivery, one retry, delivered
    assert first == {"existing": 1} and copies == [{"retried": 1}]
    assert sent[0] == 1 and len(rx.received) == 3
    _assert_one_delivery_succeeded(harness, rx, sub["id"], attempts=2)


def test_fan_out_write_whose_response_is_lost_queues_the_retry_once(harness):
    # The fan-out's write of a failed first attempt commits while its response is lost (the SDK's
    # retry fails attribute_not_exists): the write is recognised as its own, the retry queued once.
    with Receiver([Answer(500), Answer(200)]) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        lost = harness.lose_responses("dynamodb", "PutItem")
        with _counting("sqs", "SendMessage") as sent:
            harness.pump()
    assert lost[0] >= 1 and sent[0] == 1 and len(rx.received) == 2
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 2


def test_event_announced_twice_is_delivered_once(harness):
    from asyncjobs.jobs.queue import message_body

    with Receiver() as rx:
        _subscribe(harness, rx.url)
        job_id = harness.submit()
        harness.execute()
        harness.sqs.send_message(QueueUrl=harness.trigger.queue_url, MessageBody=message_body("acme", job_id))
        harness.execute()  # the executor announces the finished job again
        harness.pump()
    assert len(rx.received) == 1


@contextlib.contextmanager
def _calls_of(harness, function):
    """Every AWS call the named function's handler makes meanwhile, as `service:Operation` counts,
    and its invocations."""
    from collections import Counter

    from asyncjobs.aws import clients as aws

    calls, invocations = Counter(), [0]

    def count(model, **_):
        if harness.running() == function:
            calls[f"{model.service_model.service_name}:{model.name}"] += 1

    handler = harness.handlers[function]

    def invoke(event, context):
        invocations[0] += 1
        return handler(event, context)

    clients = [aws.client("dynamodb"), aws.client("sqs")]
    for client in clients:
        client.meta.events.register("before-call", count)
    harness.handlers[function] = invoke
    try:
        yield calls, invocations
    finally:
        harness.handlers[function] = handler
        for client in clients:
            client.meta.events.unregister("before-call", count)


@pytest.mark.parametrize(
    "answers, expected",
    [
        # delivered at the first attempt: read the subscriptions, look for the delivery, write it
        ([Answer(200)], {"dynamodb:Query": 1, "dynamodb:GetItem": 1, "dynamodb:PutItem": 1}),
        # failed first attempt: the same, and the retry's message; the retry reads the delivery and
        # the subscription, claims and records (the fan-out saves that path's invocation for the
        # first attempt only)
        (
            [Answer(500), Answer(200)],
            {
                "dynamodb:Query": 1,
                "dynamodb:GetItem": 3,
                "dynamodb:PutItem": 1,
                "sqs:SendMessage": 1,
                "dynamodb:UpdateItem": 2,
            },
        ),
    ],
    ids=["delivered", "retried-once"],
)
def test_aws_requests_of_a_jobs_webhook(harness, answers, expected):
    # Given a subscription and a job that ended
    with Receiver(answers) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()

        # When its event is fanned out and delivered
        with _calls_of(harness, "WebhookDeliveryFunction") as (calls, invocations):
            harness.pump()

    # Then the delivery function made exactly these AWS calls: a webhook delivered at once costs
    # one invocation, one write and no SQS message
    assert len(rx.received) == len(answers)
    assert dict(calls) == expected
    assert invocations[0] == len(answers)
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == len(answers)


def test_other_tenants_subscription_is_404(harness):
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    assert harness.request("GET", f"/v2/tenants/globex/webhooks/{sub['id']}").status == 404
    assert harness.request("DELETE", f"/v2/tenants/globex/webhooks/{sub['id']}").status == 404
    assert harness.request("DELETE", f"{HOOKS}/{sub['id']}").status == 204
    assert harness.request("GET", f"{HOOKS}/{sub['id']}").status == 404


def test_invalid_subscriptions_are_422(harness):
    for body, field in [
        ({"url": "http://127.0.0.1:9/x", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9/x", "events": ["job.exploded"]}, "events"),
        ({"url": "http://127.0.0.1:9/x", "events": ["job.failed"], "auth": {"type": "basic"}}, "auth"),
        (
            {
                "url": "http://127.0.0.1:9/x",
                "events": ["job.failed"],
                "auth": {"type": "headers", "headers": {"webhook-id": "x"}},
            },
            "auth",
        ),
    ]:
        reply = harness.request("POST", HOOKS, body=body)
        assert reply.status == 422, body
        assert reply.body["error"]["details"][0]["field"].startswith(field)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.8/h",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:127.0.0.1]/h",
        "http://100.64.0.1/h",
        "ftp://127.0.0.1/h",
    ],
)
def test_unsafe_urls_are_refused_at_creation(harness, url):
    reply = harness.request("POST", HOOKS, body={"url": url, "events": ["job.failed"]})
    assert reply.status == 422
    assert "`url` is refused" in reply.body["error"]["message"]


def test_dns_rebinding_is_caught_at_delivery(harness, monkeypatch):
    import socket

    answers = {"hooks.example.test": "127.0.0.1"}  # allowed locally when the subscription is made
    real_getaddrinfo = socket.getaddrinfo

    def fake_dns(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    connections = []
    real_connect = socket.create_connection
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    monkeypatch.setattr(
        socket,
        "create_connection",
        lambda addr, *a, **k: connections.append(addr) or real_connect(addr, *a, **k),
    )
    sub = _subscribe(harness, "http://hooks.example.test:9/h")
    answers["hooks.example.test"] = "10.9.8.7"  # the name now points inside the network
    harness.submit()
    harness.execute()
    harness.pump()

    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "exhausted"
    assert "10.9.8.7 is not a public address" in delivery["last_error"]
    assert not [c for c in connections if c[0] == "10.9.8.7"]  # never connected


def test_redirects_are_not_followed(harness):
    with Receiver() as inside, Receiver([Answer(307, {"Location": "placeholder"})]) as outside:
        outside.answers[0].headers["Location"] = inside.url  # "redirect to a private address"
        outside.default = Answer(200)
        sub = _subscribe(harness, outside.url)
        harness.submit()
        harness.execute()
        harness.pump()
    assert inside.received == []
    assert len(outside.received) == 2  # the 307 was a failed attempt, then a retry to the same URL
    assert [
        a["status_code"]
        for a in harness.request(
            "GET", f"{HOOKS}/{sub['id']}/deliveries/{_deliveries(harness, sub['id'])[0]['id']}"
        ).body["attempt_log"]
    ] == [307, 200]


@pytest.mark.parametrize("url", ["http://a..b/h", "http://" + "a" * 64 + ".com/h"])
def test_malformed_host_names_are_422_naming_the_url(harness, url):
    reply = harness.request("POST", HOOKS, body={"url": url, "events": ["job.failed"]})
    assert reply.status == 422, reply.body
    assert "`url` is refused" in reply.body["error"]["message"]
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    reply = harness.request("PATCH", f"{HOOKS}/{sub['id']}", body={"url": url})
    assert reply.status == 422, reply.body
    assert "`url` is refused" in reply.body["error"]["message"]


_SUB = "sub_" + "0" * 32
# Every route of the Webhooks API, with the DynamoDB operation that fails under it.
_ROUTES = [
    ("POST", HOOKS, {"url": "http://127.0.0.1:9/h", "events": ["job.failed"]}),
    ("GET", HOOKS, None),
    ("GET", f"{HOOKS}/{{sub}}", None),
    ("PATCH", f"{HOOKS}/{{sub}}", {"description": "x"}),
    ("POST", f"{HOOKS}/{{sub}}/rotate-secret", {"overlap_seconds": 0}),
    ("POST", f"{HOOKS}/{{sub}}/ping", None),
    ("GET", f"{HOOKS}/{{sub}}/deliveries", None),
    ("GET", f"{HOOKS}/{{sub}}/deliveries/{{dlv}}", None),
    ("POST", f"{HOOKS}/{{sub}}/deliveries/{{dlv}}/redeliver", None),
    ("POST", f"{HOOKS}/{{sub}}/recover", {"since": "2020-01-01T00:00:00Z"}),
    ("DELETE", f"{HOOKS}/{{sub}}", None),  # last: it succeeds when its call is not the failing one
]


@contextlib.contextmanager
def _failing(service, operation, code="InternalServerError"):
    """Every call of one operation by the functions' own client fails, as AWS fails them after
    the SDK's retries, until the block ends. Yields a call counter."""
    from botocore.exceptions import ClientError

    from asyncjobs.aws import clients as aws

    client = aws.client(service)
    calls = [0]

    def fail(**_):
        calls[0] += 1
        raise ClientError({"Error": {"Code": code, "Message": "injected by the test"}}, operation)

    event = f"before-call.{client.meta.service_model.service_name}.{operation}"
    client.meta.events.register(event, fail)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event, fail)


def test_every_route_answers_503_when_dynamodb_fails(harness):
    covered = set()
    for op in ("GetItem", "PutItem", "Query", "UpdateItem", "DeleteItem"):
        with Receiver() as rx:
            sub = _subscribe(harness, rx.url)
            harness.request("POST", f"{HOOKS}/{sub['id']}/ping")
            harness.pump()
        (dlv,) = _deliveries(harness, sub["id"])
        for method, template, body in _ROUTES:
            path = template.format(sub=sub["id"], dlv=dlv["id"])
            with _failing("dynamodb", op) as calls:
                reply = harness.request(method, path, body=body)
            if calls[0]:
                covered.add((method, template))
                assert reply.status == 503, (method, path, op, reply.body)
                assert reply.body["error"]["code"] == "service_unavailable"
                assert int(reply.headers["Retry-After"]) > 0
            else:
                assert reply.status < 500, (method, path, op, reply.body)
    assert covered == {(m, t) for m, t, _ in _ROUTES}


def _short_delivery_timeout(harness, seconds=2):
    """The delivery function's timeout, shortened (the template says 30 s): an attempt must fit
    in whatever time the invocation has left, with room to record its result."""
    harness.stack.functions["WebhookDeliveryFunction"].timeout = seconds


def _attempt_log(harness, sub_id):
    (delivery,) = _deliveries(harness, sub_id)
    return delivery, harness.request("GET", f"{HOOKS}/{sub_id}/deliveries/{delivery['id']}").body[
        "attempt_log"
    ]


@pytest.mark.parametrize(
    "misbehaving, error",
    [
        (Answer(trickle_s=0.2), "timeout"),
        (Answer(hang=True), "timeout"),
        (Answer(garbage=True), "BadStatusLine"),
    ],
    ids=["trickle", "hang", "garbage"],
)
def test_misbehaving_receiver_is_a_recorded_failed_attempt_then_retried(harness, misbehaving, error):
    _short_delivery_timeout(harness, 2)
    with Receiver([misbehaving]) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        started = time.monotonic()
        harness.pump()
    delivery, log = _attempt_log(harness, sub["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 2  # retried on schedule
    assert log[0]["status_code"] is None and log[0]["error"].startswith(error), log[0]
    assert log[0]["latency_ms"] < 2000  # cut off inside the invocation, not at 15 s per read
    assert log[1]["status_code"] == 200 and log[1]["error"] is None  # null, not left out
    assert time.monotonic() - started < 5
    assert harness.queue_depth(harness.stack.ref("WebhookDLQ")) == 0


def test_a_stored_subscription_the_request_cannot_carry_is_a_recorded_failed_attempt(harness):
    # Saved before validation existed (or by a bug): a header value http.client cannot encode and
    # a URL path that is not ASCII. Each attempt is recorded, retried, then exhausted: never a
    # crash that leaves the delivery pending with no attempt and pages the operator via the DLQ.
    from dataclasses import replace

    from asyncjobs.webhooks.delivery import deliverer_from_env

    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        store = deliverer_from_env().store
        stored = store.get_subscription("acme", sub["id"])
        for bad in (
            {"auth": {"type": "headers", "headers": {"X-Token": "tök€n"}}},
            {"url": rx.url + "/hööks"},
        ):
            current = store.get_subscription("acme", sub["id"])
            store.put_subscription(replace(current, **{"auth": stored.auth, "url": stored.url, **bad}))
            harness.submit()
            harness.execute()
            harness.pump()
    assert rx.received == []
    deliveries = _deliveries(harness, sub["id"])
    assert len(deliveries) == 2
    assert harness.queue_depth(harness.stack.ref("WebhookDLQ")) == 0
    for delivery in deliveries:
        assert delivery["status"] == "exhausted" and delivery["attempts"] == 8, delivery
        assert delivery["last_error"]


@pytest.mark.parametrize(
    "change",
    [
        {"auth": {"type": "headers", "headers": {"X-Token": "tök€n"}}},
        {"auth": {"type": "headers", "headers": {"X-Token": "a\x01b"}}},
        {"auth": {"type": "headers", "headers": {"X-Token": "a\tb\x7f"}}},
        {"auth": {"type": "basic", "username": "a:b", "password": "pw"}},
        {"auth": {"type": "basic", "username": "ab", "password": "p\nw"}},
        {"url": "http://127.0.0.1:9/hööks"},
        {"url": "http://127.0.0.1:9/a b"},
        {"url": "http://127.0.0.1:9/a?q=\x07"},
    ],
)
def test_what_a_request_cannot_carry_is_refused_when_saved(harness, change):
    body = {"url": "http://127.0.0.1:9/h", "events": ["job.failed"], **change}
    reply = harness.request("POST", HOOKS, body=body)
    assert reply.status == 422, reply.body
    field = next(iter(change))
    assert f"`{field}" in reply.body["error"]["message"], reply.body
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    reply = harness.request("PATCH", f"{HOOKS}/{sub['id']}", body=change)
    assert reply.status == 422, reply.body
    assert harness.request("GET", f"{HOOKS}/{sub['id']}").body["url"] == rx.url


def test_delete_during_a_410_attempt_stays_deleted(harness):
    sub_id = []
    deleted = Answer(410, before=lambda: harness.request("DELETE", f"{HOOKS}/{sub_id[0]}"))
    with Receiver([deleted]) as rx:
        sub_id.append(_subscribe(harness, rx.url)["id"])
        harness.submit()
        harness.execute()
        harness.pump()
    assert len(rx.received) == 1
    assert harness.request("GET", f"{HOOKS}/{sub_id[0]}").status == 404  # not back, disabled
    assert harness.request("GET", HOOKS).body["webhooks"] == []


def test_rotation_during_a_410_attempt_keeps_the_old_secret_expired(harness):
    sub_id, rotated = [], []

    def rotate():
        reply = harness.request("POST", f"{HOOKS}/{sub_id[0]}/rotate-secret", body={"overlap_seconds": 0})
        assert reply.status == 200, reply.body
        rotated.append(reply.body)

    with Receiver([Answer(410, before=rotate)]) as rx:
        sub = _subscribe(harness, rx.url)
        sub_id.append(sub["id"])
        harness.submit()
        harness.execute()
        harness.pump()
    doc = harness.request("GET", f"{HOOKS}/{sub['id']}").body
    assert doc["enabled"] is False and "410" in doc["disabled_reason"]  # the 410 still counts
    assert [s["prefix"] for s in doc["secrets"]] == [s["prefix"] for s in rotated[0]["secrets"]]
    (new,) = doc["secrets"]  # the old secret did not come back (it went with the rotation)
    assert new["expires_at"] is None and rotated[0]["secret"].startswith(new["prefix"][:-1])
    assert not sub["secret"].startswith(new["prefix"][:-1])


def test_patch_racing_another_change_reapplies_on_top_of_it(harness):
    from asyncjobs.aws import clients as aws

    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    client = aws.client("dynamodb")
    raced = []

    def rotate_first(**_):
        if not raced:  # between the PATCH's read and its write, a rotation lands
            raced.append(1)
            raced.append(
                harness.request("POST", f"{HOOKS}/{sub['id']}/rotate-secret", body={"overlap_seconds": 60})
            )

    client.meta.events.register("before-call.dynamodb.PutItem", rotate_first)
    try:
        reply = harness.request("PATCH", f"{HOOKS}/{sub['id']}", body={"description": "patched"})
    finally:
        client.meta.events.unregister("before-call.dynamodb.PutItem", rotate_first)
    assert raced[1].status == 200
    assert reply.status == 200, reply.body
    doc = harness.request("GET", f"{HOOKS}/{sub['id']}").body
    assert doc["description"] == "patched"
    assert len(doc["secrets"]) == 2  # the rotation survived the PATCH


def _store():
    from asyncjobs.webhooks.delivery import deliverer_from_env

    return deliverer_from_env().store


def _delivery_key(sub_id, delivery_id):
    """A delivery's key in WebhooksTable (its log is sharded), for tests that touch items directly."""
    from asyncjobs.webhooks.store import delivery_key

    return delivery_key(sub_id, delivery_id)


def _log_delivery(harness, sub_id, delivery_id, status, created_at=None):
    """A delivery in the log, as the delivery function leaves it."""
    from asyncjobs.webhooks.models import Delivery

    store = _store()
    d = Delivery(sub_id, delivery_id, "acme", "ping", "{}", "pending", created_at or time.time())
    store.create_delivery(d)
    if status != "pending":
        store.finish_without_attempt(d, status)


def test_subscriptions_per_tenant_are_capped(harness):
    from asyncjobs.webhooks.models import MAX_SUBSCRIPTIONS

    for _ in range(MAX_SUBSCRIPTIONS):
        _subscribe(harness, "http://127.0.0.1:9/h")
    reply = harness.request("POST", HOOKS, body={"url": "http://127.0.0.1:9/h", "events": ["job.failed"]})
    assert reply.status == 409, reply.body
    assert str(MAX_SUBSCRIPTIONS) in reply.body["error"]["message"]
    assert (
        harness.request(
            "POST",
            "/v2/tenants/globex/webhooks",
            body={"url": "http://127.0.0.1:9/h", "events": ["job.failed"]},
        ).status
        == 201
    )


def test_a_retried_fan_out_does_not_restart_deliveries_already_made(harness):
    from asyncjobs.errors import InfrastructureError
    from asyncjobs.webhooks.delivery import deliverer_from_env

    with Receiver() as first, Receiver([Answer(500), Answer(200)]) as second:
        _subscribe(harness, first.url)
        _subscribe(harness, second.url)
        job_id = harness.submit()
        harness.execute()
        deliverer = deliverer_from_env()
        item = harness.item("acme", job_id)
        event = {
            "time": "2026-01-01T00:00:00Z",
            "detail": {
                "event_id": f"{job_id}.succeeded",
                "tenant_id": "acme",
                "job_id": job_id,
                "action": "diagnostic",
                "status": "succeeded",
                "result": item.get("result"),
            },
        }
        # The first delivery is made; the second's first attempt fails, is written, and its
        # retry's message cannot be sent (SQS fails for good): the fan-out fails.
        harness.fail_calls("sqs", "SendMessage", times=4, code="InternalError")
        with pytest.raises(InfrastructureError):
            deliverer.fan_out(event)
        assert (len(first.received), len(second.received)) == (1, 1)
        harness.pump()  # the event's own fan-out from the bus queues the lost retry
        made = len(first.received) + len(second.received)
        deliverer.fan_out(event)  # Lambda retries the event
        deliverer.fan_out(event)
        harness.pump()
    assert len(first.received) == 1 and len(second.received) == 2  # 500, then the retry's 200
    assert made == 3


def test_deliveries_expire_with_the_job_and_are_hidden_once_expired(harness):
    from asyncjobs.webhooks.models import DELIVERY_RETENTION_S

    assert DELIVERY_RETENTION_S == 7 * 86400  # as long as the job itself is kept
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    old = time.time() - DELIVERY_RETENTION_S - 60
    _log_delivery(harness, sub["id"], "a0.ping", "exhausted", created_at=old)  # not yet deleted by TTL
    _log_delivery(harness, sub["id"], "b0.ping", "exhausted")
    assert [d["id"] for d in _deliveries(harness, sub["id"])] == ["b0.ping"]
    assert [d["id"] for d in _deliveries(harness, sub["id"], status="exhausted")] == ["b0.ping"]
    assert harness.request("GET", f"{HOOKS}/{sub['id']}/deliveries/a0.ping").status == 404
    assert harness.request("POST", f"{HOOKS}/{sub['id']}/deliveries/a0.ping/redeliver").status == 404
    item = harness.ddb.get_item(
        TableName=harness.env["WEBHOOKS_TABLE"],
        Key=_delivery_key(sub["id"], "b0.ping"),
    )["Item"]
    assert abs(int(item["expires_at"]["N"]) - time.time() - 7 * 86400) < 60


def test_filtered_delivery_log_reads_a_bounded_part_per_request(harness, monkeypatch):
    from asyncjobs.webhooks import store as webhooks

    # two rounds of shard Queries a request, two items a Query
    monkeypatch.setattr(webhooks, "MAX_QUERIES", 2 * webhooks.SHARDS)
    monkeypatch.setattr(webhooks, "MAX_SHARD_READ", 2)
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    _log_delivery(harness, sub["id"], "a0.ping", "exhausted")  # the oldest
    for n in range(100):
        _log_delivery(harness, sub["id"], f"b{n:02d}.ping", "succeeded")
    with _counting("dynamodb", "Query") as calls:
        reply = harness.request("GET", f"{HOOKS}/{sub['id']}/deliveries", query={"status": "exhausted"})
    assert reply.status == 200 and reply.body["deliveries"] == [] and reply.body["next_cursor"]
    assert calls[0] == 2 * webhooks.SHARDS
    found, cursor, requests = [], reply.body["next_cursor"], 1
    while cursor:
        with _counting("dynamodb", "Query") as calls:
            body = harness.request(
                "GET", f"{HOOKS}/{sub['id']}/deliveries", query={"status": "exhausted", "cursor": cursor}
            ).body
        assert calls[0] <= 2 * webhooks.SHARDS
        found += [d["id"] for d in body["deliveries"]]
        cursor, requests = body["next_cursor"], requests + 1
    # the first request read 64 of the 101 items (4 a shard), the next read on from there
    assert found == ["a0.ping"] and requests == 2


def _delivery_log(harness, sub_id, **query):
    """Every page of a subscription's delivery log, followed by its cursors: the deliveries' ids."""
    seen, cursor = [], None
    for _ in range(500):
        reply = harness.request(
            "GET", f"{HOOKS}/{sub_id}/deliveries", query={**query, **({"cursor": cursor} if cursor else {})}
        )
        assert reply.status == 200, reply.body
        assert len(reply.body["deliveries"]) <= int(query.get("limit", 50))
        seen += [d["id"] for d in reply.body["deliveries"]]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the delivery log never ended")


def test_a_subscriptions_deliveries_spread_over_its_shards_and_list_as_one_sequence(harness):
    from collections import Counter

    from asyncjobs.jobs.ids import new_job_id
    from asyncjobs.webhooks.models import DELIVERY_RETENTION_S
    from asyncjobs.webhooks.store import SHARDS

    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    other = _subscribe(harness, rx.url)  # never listed with the first
    start_ms = int(time.time() * 1000) - 1000
    statuses = ("succeeded", "exhausted", "failed")
    log = [(f"{new_job_id(start_ms + n)}.succeeded", statuses[n % 3]) for n in range(96)]  # oldest first
    for n, (delivery_id, status) in enumerate(log):
        old = time.time() - DELIVERY_RETENTION_S - 60 if n % 8 == 5 else None  # expired, not yet deleted
        _log_delivery(harness, sub["id"], delivery_id, status, created_at=old)
    _log_delivery(harness, other["id"], log[0][0], "exhausted")
    listed = [(d, s) for n, (d, s) in reversed(list(enumerate(log))) if n % 8 != 5]

    items = harness.ddb.scan(TableName=harness.env["WEBHOOKS_TABLE"])["Items"]
    per_pk = Counter(i["pk"]["S"] for i in items if i["sub_id"]["S"] == sub["id"] and "delivery_id" in i)
    assert set(per_pk) <= {f"SUB#{sub['id']}#{s:02d}" for s in range(SHARDS)}
    assert len(per_pk) >= SHARDS - 2  # 96 deliveries leave a shard empty with odds of about 1 in 30

    for limit in (1, 7, 50):
        assert _delivery_log(harness, sub["id"], limit=str(limit)) == [d for d, _ in listed], limit
    exhausted = [d for d, s in listed if s == "exhausted"]
    assert _delivery_log(harness, sub["id"], status="exhausted", limit="2") == exhausted


def test_a_delivery_is_read_with_one_request_on_its_key(harness):
    from asyncjobs.aws import clients as aws

    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        harness.pump()
    (delivery,) = _deliveries(harness, sub["id"])
    calls = []

    def record(params, model, **_):
        if params.get("TableName") == harness.env["WEBHOOKS_TABLE"]:
            calls.append((model.name, params.get("Key")))

    client = aws.client("dynamodb")
    client.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        reply = harness.request("GET", f"{HOOKS}/{sub['id']}/deliveries/{delivery['id']}")
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)
    assert reply.status == 200 and reply.body["id"] == delivery["id"], reply.body
    # the subscription (whose tenant it must be), then the delivery itself
    assert [op for op, _ in calls] == ["GetItem", "GetItem"]
    assert calls[1][1] == _delivery_key(sub["id"], delivery["id"])


def test_recover_is_bounded_per_call_and_continues_with_a_cursor(harness, monkeypatch):
    from asyncjobs.webhooks import subscriptions

    monkeypatch.setattr(subscriptions, "MAX_RECOVER", 2)
    sub = _subscribe(harness, closed_port_url())
    for n in range(3):
        _log_delivery(harness, sub["id"], f"a{n}.ping", "exhausted")
    body = {"since": "2020-01-01T00:00:00Z"}
    first = harness.request("POST", f"{HOOKS}/{sub['id']}/recover", body=body)
    assert first.status == 202 and first.body["requeued"] == 2 and first.body["next_cursor"]
    second = harness.request(
        "POST", f"{HOOKS}/{sub['id']}/recover", body={**body, "cursor": first.body["next_cursor"]}
    )
    assert second.status == 202 and second.body == {"requeued": 1, "next_cursor": None}
    assert {d["status"] for d in _deliveries(harness, sub["id"])} == {"pending"}


def test_rotations_drop_expired_secrets_and_cap_the_active_ones(harness):
    from asyncjobs.webhooks.models import MAX_ACTIVE_SECRETS

    sub = _subscribe(harness, "http://127.0.0.1:9/h")
    rotate = f"{HOOKS}/{sub['id']}/rotate-secret"
    for _ in range(MAX_ACTIVE_SECRETS - 1):
        assert harness.request("POST", rotate, body={"overlap_seconds": 3600}).status == 200
    refused = harness.request("POST", rotate, body={"overlap_seconds": 3600})
    assert refused.status == 409, refused.body
    assert f"at most {MAX_ACTIVE_SECRETS}" in refused.body["error"]["message"]
    for _ in range(3):
        reply = harness.request("POST", rotate, body={"overlap_seconds": 0})
        assert reply.status == 200
    assert len(harness.request("GET", f"{HOOKS}/{sub['id']}").body["secrets"]) == 1  # only the new one


@pytest.mark.parametrize(
    "path, query",
    [
        ("/deliveries/" + "x" * 2000, None),
        ("/deliveries/" + "x" * 2000 + "/redeliver", None),
        ("/deliveries/%00abc", None),
        ("/deliveries", {"cursor": "y" * 1000}),
        ("/deliveries", {"cursor": "a\u0000b"}),
    ],
    ids=["long-id", "long-id-redeliver", "nul-id", "long-cursor", "nul-cursor"],
)
def test_junk_path_and_query_parameters_are_422(harness, path, query):
    sub = _subscribe(harness, "http://127.0.0.1:9/h")
    method = "POST" if path.endswith("redeliver") else "GET"
    reply = harness.request(method, f"{HOOKS}/{sub['id']}{path}", query=query)
    assert reply.status == 422, reply.body


@contextlib.contextmanager
def _counting(service, operation):
    from asyncjobs.aws import clients as aws

    client = aws.client(service)
    calls = [0]

    def count(**_):
        calls[0] += 1

    event = f"before-call.{client.meta.service_model.service_name}.{operation}"
    client.meta.events.register(event, count)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event, count)


def test_fan_out_that_failed_its_asynchronous_tries_is_redone_from_the_dead_letter_queue(harness):
    # Given a job event whose fan-out failed Lambda's three asynchronous tries: Lambda sends its
    # OnFailure record to WebhookDLQ (what the template's EventInvokeConfig says)
    from devstack.lambda_runtime import aws_event

    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        job_id = harness.submit()
        harness.execute()
        (rule,) = harness.stack.rule_triggers
        (msg,) = harness.sqs.receive_message(QueueUrl=rule.queue_url, MaxNumberOfMessages=10)["Messages"]
        harness.sqs.delete_message(QueueUrl=rule.queue_url, ReceiptHandle=msg["ReceiptHandle"])
        record = {
            "version": "1.0",
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": aws_event(json.loads(msg["Body"]), "us-east-1"),
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        }
        harness.sqs.send_message(QueueUrl=harness.stack.ref("WebhookDLQ"), MessageBody=json.dumps(record))

        # When the delivery function drains the dead-letter queue
        harness.pump()

    # Then the webhook was delivered all the same, and nothing is left in the dead-letter queue
    (got,) = rx.received
    assert _verify(sub["secret"], got)["data"]["job_id"] == job_id
    assert harness.queue_depth(harness.stack.ref("WebhookDLQ")) == 0


def test_attempt_whose_processing_failed_five_times_is_made_from_the_dead_letter_queue(harness):
    # Given a retry's message that could not be processed five times (DynamoDB failing), so SQS
    # moved it to WebhookDLQ
    from devstack.lambda_runtime import deliver_batch

    with Receiver([Answer(500), Answer(200)]) as rx:
        sub = _subscribe(harness, rx.url)
        job_id = harness.submit()
        harness.execute()
        harness.pump_rules()  # the fan-out: the failed first attempt and its retry's message
        reads = harness.fail_calls("dynamodb", "GetItem", times=5, code="InternalServerError")
        (attempts,) = [t for t in harness.stack.queue_triggers if t.queue_arn.endswith("-WebhookQueue")]
        for _ in range(6):  # five failed processings; on the sixth receive SQS dead-letters it
            deliver_batch(
                harness.sqs,
                attempts.queue_url,
                attempts.queue_arn,
                lambda ev: harness._invoke("WebhookDeliveryFunction", ev)[1],
                batch_size=1,
                report_batch_item_failures=True,
                failed_visibility_timeout=0,
            )
        assert reads[0] == 5 and len(rx.received) == 1
        assert harness.queue_depth(harness.stack.ref("WebhookDLQ")) == 1

        harness.pump()

    # Then the retry was made from the dead-letter queue and recorded
    assert _verify(sub["secret"], rx.received[1])["data"]["job_id"] == job_id
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "succeeded"
    assert harness.queue_depth(harness.stack.ref("WebhookDLQ")) == 0


def test_claim_whose_response_is_lost_still_makes_the_attempt(harness):
    # Given a retry whose claim commits while its response is lost (the SDK's retry then fails)
    with Receiver([Answer(500), Answer(200)]) as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        harness.pump_rules()  # the fan-out: the failed first attempt and its retry's message
        lost = harness.lose_responses("dynamodb", "UpdateItem")  # the next UpdateItem: the claim

        harness.pump()

    # Then the retry is made at once, not after the claim runs out
    assert lost[0] >= 1 and len(rx.received) == 2
    (delivery,) = _deliveries(harness, sub["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 2


def test_redeliver_while_an_attempt_is_being_made_is_409(harness):
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        harness.submit()
        harness.execute()
        harness.pump()
    (delivery,) = _deliveries(harness, sub["id"])
    harness.ddb.update_item(  # an attempt holds a live claim on it
        TableName=harness.env["WEBHOOKS_TABLE"],
        Key=_delivery_key(sub["id"], delivery["id"]),
        UpdateExpression="SET #s = :p, claimed_until = :later",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "pending"}, ":later": {"N": str(time.time() + 60)}},
    )
    reply = harness.request("POST", f"{HOOKS}/{sub['id']}/deliveries/{delivery['id']}/redeliver")
    assert reply.status == 409 and reply.body["error"]["code"] == "conflict"
    assert reply.headers["Retry-After"] == "60"  # when to try again, as the message says


def test_recover_requeues_a_pending_delivery_whose_message_was_lost(harness):
    # Given a ping whose delivery was stored but whose message could not be sent
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        harness.fail_calls("sqs", "SendMessage", times=1, code="ServiceUnavailable")
        assert harness.request("POST", f"{HOOKS}/{sub['id']}/ping").status == 503
        harness.pump()
        assert rx.received == []
        (stuck,) = _deliveries(harness, sub["id"])
        assert stuck["status"] == "pending"
        harness.ddb.update_item(  # an hour and more later
            TableName=harness.env["WEBHOOKS_TABLE"],
            Key=_delivery_key(sub["id"], stuck["id"]),
            UpdateExpression="SET next_attempt_at = :then",
            ExpressionAttributeValues={":then": {"N": str(time.time() - 3700)}},
        )

        # When the tenant recovers
        reply = harness.request("POST", f"{HOOKS}/{sub['id']}/recover", body={"since": "2000-01-01T00:00:00"})
        harness.pump()

    # Then it is delivered
    assert reply.status == 202 and reply.body["requeued"] == 1
    assert len(rx.received) == 1


def test_recover_since_the_earliest_date_is_not_a_500(harness):
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
    reply = harness.request("POST", f"{HOOKS}/{sub['id']}/recover", body={"since": "0001-01-01T00:00:00"})
    assert reply.status == 202, reply.body


def test_a_jobs_delivery_expires_exactly_when_the_job_does(harness):
    # A job that ran for a while: its delivery is created later than the job, yet both are deleted
    # (and hidden) at the same moment, the job's 7 days.
    with Receiver() as rx:
        sub = _subscribe(harness, rx.url)
        job_id = harness.submit()
        harness.execute()
        harness.pump()
    job_expiry = int(harness.item("acme", job_id)["expires_at"])
    (delivery,) = _deliveries(harness, sub["id"])
    item = harness.ddb.get_item(
        TableName=harness.env["WEBHOOKS_TABLE"],
        Key=_delivery_key(sub["id"], delivery["id"]),
    )["Item"]
    assert int(item["expires_at"]["N"]) == job_expiry
    from asyncjobs.jobs.models import iso

    assert json.loads(rx.received[0].body)["data"]["expires_at"] == iso(job_expiry)


def test_subscription_create_whose_response_is_lost_is_201(harness):
    # The PutItem commits, its response is lost, and the SDK's retry fails attribute_not_exists.
    harness.lose_responses("dynamodb", "PutItem")
    with Receiver() as rx:
        created = _subscribe(harness, rx.url)
    assert harness.request("GET", f"{HOOKS}/{created['id']}").status == 200


def test_sample_events_drive_the_handlers(harness):
    """The webhook samples in events/ (for `sam local invoke -e`) are accepted by their functions:
    a Webhooks API request, and both triggers of the delivery function."""
    from dataclasses import replace

    from asyncjobs.webhooks.models import Delivery
    from devstack.lambda_runtime import LambdaContext, json_body

    # Given the sample request (acme lists its subscriptions), when the Webhooks API gets it
    listed = harness.handlers["WebhooksFunction"](load_event("webhooks.json"), LambdaContext("webhooks"))
    # Then it answers as over HTTP: a fresh stack has none
    assert listed["statusCode"] == 200, listed
    assert json_body(listed) == {"webhooks": []}

    with Receiver() as rx:
        # Given the subscription and ping delivery the sample attempt message names
        attempt = load_event("webhook_delivery_attempt.json")
        message = json.loads(attempt["Records"][0]["body"])
        sub = _subscribe(harness, rx.url)
        store = _store()
        stored = store.get_subscription("acme", sub["id"])
        store.put_subscription(replace(stored, sub_id=message["sub_id"], version=0), new=True)
        ping = Delivery(
            message["sub_id"],
            message["delivery_id"],
            "acme",
            "ping",
            '{"type":"ping"}',
            "pending",
            time.time(),
        )
        store.create_delivery(ping)

        # When the delivery function gets the sample WebhookQueue record, then it makes the attempt
        context = LambdaContext("webhook_delivery", 256, 30)
        assert harness.handlers["WebhookDeliveryFunction"](attempt, context) == {"batchItemFailures": []}
        assert [r.headers["webhook-id"] for r in rx.received] == [message["delivery_id"]]

        # When it gets the sample job event from the EventBridge rule, then it fans it out to
        # acme's subscriptions, making their first attempts there and then
        event = load_event("webhook_delivery_event.json")
        assert harness.handlers["WebhookDeliveryFunction"](event, context) is None
        harness.pump()
    job_ids = [r.headers["webhook-id"] for r in rx.received[1:]]
    assert job_ids == [event["detail"]["event_id"]] * 2  # both subscriptions want job.succeeded
    assert json.loads(rx.received[1].body)["data"]["job_id"] == event["detail"]["job_id"]


def test_a_hanging_dns_lookup_answers_503_within_the_bound_at_creation(harness, monkeypatch):
    import socket

    from asyncjobs.webhooks import subscriptions

    real_getaddrinfo = socket.getaddrinfo

    def hanging_dns(host, port, *args, **kwargs):
        if host == "slow.example.test":
            time.sleep(3)  # a resolver that does not answer in time
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging_dns)
    monkeypatch.setattr(subscriptions, "URL_CHECK_S", 0.3)
    started = time.monotonic()
    reply = harness.request(
        "POST", HOOKS, body={"url": "https://slow.example.test/h", "events": ["job.failed"]}
    )
    assert time.monotonic() - started < 2
    assert reply.status == 503
    assert reply.body["error"]["code"] == "service_unavailable"
    assert "did not answer within 0.3 s" in reply.body["error"]["message"]
    assert reply.headers["Retry-After"] == "5"
    # nothing was saved: the tenant has no subscription
    assert harness.request("GET", HOOKS).body["webhooks"] == []
