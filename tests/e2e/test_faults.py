"""Fault injection through the local stack, over 500+ jobs: executors crashing mid-job, actions
outliving their timeout, poison messages, DynamoDB / SQS / EventBridge errors and throttling on
every function's AWS calls, writes that take effect while their response is lost (so the SDK's
retry fails), run functions crashing between sending a job's message and storing the job, cancels
racing the executor, and a webhook receiver that fails, trickles, hangs or answers garbage.

Asserted: the jobs that exist are exactly the ones callers were told were accepted (none lost, none
extra); each ends terminal within the bound with the outcome its input asks for; none has two
terminal states or two different results; every job's webhook is delivered or visibly exhausted,
under one webhook id; the webhook dead-letter queue stays empty; and the jobs dead-letter queue
ends holding only the poison messages.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.client import LocalStackProcess, copy_template
from tests.receiver import Answer, Receiver

JOBS = 500
BOUND_S = 240  # every accepted job is terminal this long after the last submission (2 cores)
FAULTS = {
    # fail before reaching AWS (after the SDK's own retries)
    "dynamodb:PutItem": 0.02,
    "dynamodb:GetItem": 0.02,
    "dynamodb:UpdateItem": 0.03,
    "dynamodb:Query": 0.02,
    "sqs:SendMessage": 0.03,
    "events:PutEvents": 0.05,
    # take effect, then the SDK's retry fails (a conditional write fails its own condition)
    "lost:dynamodb:PutItem": 0.02,
    "lost:dynamodb:UpdateItem": 0.02,
    "lost:sqs:SendMessage": 0.02,
    "lost:events:PutEvents": 0.02,
    # the process dies right after the call: a run between send and store, a delivery between
    # queueing the next attempt and recording this one
    "crash-after:sqs:SendMessage": 0.02,
}
# (share of jobs, input, the terminal states allowed)
MIX = [
    (0.59, {}, {"succeeded"}),
    (0.10, {"fail_with": "action_error"}, {"failed"}),
    (0.05, {"fail_with": "exception"}, {"failed"}),
    (0.12, {"crash_on_attempts": 1}, {"succeeded"}),
    (0.10, {"transient_failures": 1}, {"succeeded"}),
    (0.04, {"duration_seconds": 3}, {"failed"}),  # outlives the 1 s timeout on every attempt
    # cancelled right after it is accepted: 200 -> cancelled; 202 -> whatever the action reaches
    # first (it sees the cancel at a progress report); 409 -> it had ended
    (0.06, {"duration_seconds": 0.4, "steps": 4}, {"cancelled", "succeeded"}),
]
CANCEL = len(MIX) - 1
POISON = ("not json", "{}", '{"tenant_id": 1}')
REFUSED: defaultdict[int, int] = defaultdict(int)  # 5xx answers to run, by status
TERMINAL = ("succeeded", "failed", "cancelled")


class Flapping(Receiver):
    """Fails 30% of deliveries at random: a 500, an answer trickled a byte at a time, no answer at
    all, or bytes that are not HTTP."""

    def __init__(self) -> None:
        super().__init__()
        rng = random.Random(7)
        lock = threading.Lock()
        receiver = self
        bad = [Answer(500)] * 20 + [Answer(trickle_s=0.3)] * 4 + [Answer(hang=True)] * 3
        bad += [Answer(garbage=True)] * 3

        class Answers(list):
            def pop(self, _index=0):
                with lock:
                    return rng.choice(bad) if rng.random() < 0.3 else Answer(200)

            def __bool__(self):
                return True

        receiver.answers = Answers()


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    if __import__("os").environ.get("E2E_BASE_URL"):
        pytest.skip("fault injection runs against a local stack of its own")
    work = tmp_path_factory.mktemp("faults")
    template = copy_template(
        work,
        [
            ("      Timeout: 300\n", "      Timeout: 1\n"),  # executor
            ("VisibilityTimeout: 1800", "VisibilityTimeout: 3"),  # > the 1 s lease + its 1 s margin
            ("      Timeout: 30\n", "      Timeout: 2\n"),  # webhook delivery
            ("VisibilityTimeout: 180", "VisibilityTimeout: 4"),
            ("VisibilityTimeout: 120", "VisibilityTimeout: 5"),  # the jobs dead-letter queue
            ("VisibilityTimeout: 150", "VisibilityTimeout: 5"),  # the webhook dead-letter queue
        ],
    )
    stack = LocalStackProcess(
        template,
        work,
        params={
            "WebhookTimeScale": "0.0001",
            "WebhookRequireHttps": "false",
            "WebhookAllowedNetworks": "127.0.0.0/8",
        },
    )
    stack.extra_args = ["--faults", json.dumps(FAULTS), "--concurrency", "6"]
    with stack:
        stack.key = stack.create_key("chaos")
        yield stack


def _submit(session, url, body):
    for _ in range(20):  # a client retries 5xx: the answer says nothing was started
        try:
            reply = session.post(url, json=body, timeout=30)
        except requests.ConnectionError:
            time.sleep(0.2)
            continue
        if reply.status_code == 202:
            return reply.json()["job_id"]
        assert reply.status_code >= 500, reply.text
        REFUSED[reply.status_code] += 1
        time.sleep(0.1)
    raise AssertionError("could not submit a job in 20 tries")


def _wait_started(session, status_url, job_id):
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        reply = _get(session, status_url, job_id=job_id)
        if reply.status_code == 200 and reply.json()["status"] != "queued":
            return
        time.sleep(0.2)


def _cancel(session, base, job_id):
    for _ in range(20):
        try:
            reply = session.post(f"{base}/jobs/{job_id}/cancel", timeout=30)
        except requests.ConnectionError:
            time.sleep(0.2)
            continue
        if reply.status_code < 500:
            assert reply.status_code in (200, 202, 409), reply.text
            return reply.status_code
        time.sleep(0.1)
    raise AssertionError("could not cancel a job in 20 tries")


def _depth(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(attrs[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    )


def _get(session, url, **params):
    for _ in range(20):
        reply = session.get(url, params=params, timeout=30)
        if reply.status_code < 500:
            return reply
        time.sleep(0.1)
    raise AssertionError(f"GET {url} kept failing")


def test_no_job_lost_duplicated_or_left_running_under_faults(fault_stack):
    base = f"{fault_stack.base_url}/v2/tenants/chaos"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {fault_stack.key}"
    with Flapping() as rx:
        events = ["job.succeeded", "job.failed", "job.cancelled"]
        created = session.post(f"{base}/webhooks", json={"url": rx.url, "events": events}, timeout=30)
        while created.status_code >= 500:
            created = session.post(f"{base}/webhooks", json={"url": rx.url, "events": events}, timeout=30)
        assert created.status_code == 201, created.text
        sub_id = created.json()["id"]

        rng = random.Random(42)
        kinds = rng.choices(range(len(MIX)), weights=[m[0] for m in MIX], k=JOBS)
        cancels: dict[str, int] = {}

        def cancel_when_started(job_id):
            _wait_started(session, f"{base}/diagnostic/status", job_id)
            cancels[job_id] = _cancel(session, base, job_id)

        pending_cancels = []
        with ThreadPoolExecutor(8) as pool, ThreadPoolExecutor(16) as later:

            def submit(kind):
                job_id = _submit(session, f"{base}/diagnostic/run", MIX[kind][1])
                if kind == CANCEL and int(job_id[-1], 16) % 2:  # once running, or ended (409)
                    pending_cancels.append(later.submit(cancel_when_started, job_id))
                elif kind == CANCEL:
                    cancels[job_id] = _cancel(session, base, job_id)  # at once: queued
                return job_id, kind

            ids = list(pool.map(submit, kinds))
            # poison: messages no run function wrote
            sqs = fault_stack.boto3_client("sqs")
            queue = fault_stack.state["outputs"]["JobsQueueUrl"]
            for body in POISON:
                sqs.send_message(QueueUrl=queue, MessageBody=body)
            submitted = time.monotonic()
        for future in pending_cancels:
            future.result()  # a cancel that failed fails the test

        # every accepted job ends, within the bound
        final: dict[str, dict] = {}
        while True:
            final.clear()
            cursor = None
            while True:
                page = _get(
                    session, f"{base}/jobs", limit=100, **({"cursor": cursor} if cursor else {})
                ).json()
                final.update({j["job_id"]: j for j in page["jobs"]})
                cursor = page["next_cursor"]
                if not cursor:
                    break
            # exactly the accepted jobs exist: none lost, none stored behind a 5xx
            assert set(final) == {j for j, _ in ids}, "jobs exist that no caller was told about"
            open_jobs = [j for j, _ in ids if final[j]["status"] not in TERMINAL]
            if not open_jobs:
                break
            assert time.monotonic() - submitted < BOUND_S, (
                f"{len(open_jobs)} jobs not terminal: {open_jobs[:5]}"
            )
            time.sleep(1)
        ended_in = time.monotonic() - submitted

        # Under these fault rates a job may use up its deliveries on infrastructure errors alone:
        # it then ends failed/attempts_exhausted, visibly. Every other ending is the expected one.
        exhausted = 0
        for job_id, kind in ids:
            job = final[job_id]
            if job["status"] == "failed" and job["error"]["code"] == "attempts_exhausted":
                exhausted += 1
                continue
            assert job["status"] in MIX[kind][2], (MIX[kind][1], job)
            if kind == CANCEL:
                answered = cancels[job_id]
                expected = {200: {"cancelled"}, 202: {"cancelled", "succeeded"}, 409: {"succeeded"}}
                assert job["status"] in expected[answered], (answered, job)
        timeouts = sum(1 for _, kind in ids if MIX[kind][1].get("duration_seconds"))
        assert exhausted - timeouts < len(ids) * 0.05, f"{exhausted} jobs exhausted their deliveries"

        # every webhook delivered (or visibly exhausted), none contradicting another
        deadline = time.monotonic() + BOUND_S
        while True:
            deliveries, cursor = {}, None
            while True:
                page = _get(
                    session,
                    f"{base}/webhooks/{sub_id}/deliveries",
                    limit=100,
                    **({"cursor": cursor} if cursor else {}),
                ).json()
                deliveries.update({d["job_id"]: d for d in page["deliveries"]})
                cursor = page["next_cursor"]
                if not cursor:
                    break
            pending = [
                j for j, _ in ids if deliveries.get(j, {}).get("status") not in ("succeeded", "exhausted")
            ]
            if not pending:
                break
            assert time.monotonic() < deadline, f"{len(pending)} webhooks neither delivered nor exhausted"
            time.sleep(1)
        received = defaultdict(list)
        for r in rx.received:
            payload = json.loads(r.body)
            received[payload["data"]["job_id"]].append((r.headers["webhook-id"], payload))

    for job_id, _ in ids:
        if deliveries[job_id]["status"] == "succeeded":
            assert received[job_id], f"no webhook arrived for {job_id}"
        seen = received[job_id]
        assert len({wid for wid, _ in seen}) <= 1  # one delivery per job, retried under one id
        assert {p["data"]["status"] for _, p in seen} <= {final[job_id]["status"]}
        assert len({json.dumps(p["data"].get("result"), sort_keys=True) for _, p in seen}) <= 1

    # The jobs dead-letter queue ends holding exactly the poison: the reconciler settled (and
    # deleted) every job message that landed there, and gives the poison back each time it comes.
    dlq = fault_stack.state["outputs"]["JobsDLQUrl"]
    deadline = time.monotonic() + 60
    while (depth := _depth(sqs, dlq)) != len(POISON):
        assert time.monotonic() < deadline, f"the jobs dead-letter queue holds {depth} messages"
        time.sleep(0.5)
    # No webhook message was dead-lettered: every attempt was recorded, failed or not.
    assert _depth(sqs, fault_stack.state["outputs"]["WebhookDLQUrl"]) == 0
    crashes = fault_stack.log().count("Runtime exited unexpectedly")
    print(
        f"\n{len(ids)} jobs terminal {ended_in:.0f} s after the last submission, {exhausted} exhausted; "
        f"{sum(len(v) for v in received.values())} webhook requests for {len(ids)} deliveries; "
        f"run answered {dict(REFUSED)} before accepting; cancels answered "
        f"{ {c: list(cancels.values()).count(c) for c in (200, 202, 409)} }; {crashes} function crashes"
    )
