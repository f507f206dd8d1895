"""Fault injection through the local stack, over 500+ jobs: executors crashing mid-job, actions
outliving their timeout, poison messages, DynamoDB / SQS / EventBridge errors and throttling on
every function's AWS calls, writes that take effect while their response is lost (so the SDK's
retry fails), run functions crashing between sending a job's message and storing the job, cancels
racing the executor, and a webhook receiver that fails, trickles, hangs or answers garbage.
Among them, jobs longer than their invocations, which checkpoint and continue 3 times or more.
Among them, multi-action jobs (`POST /v2/tenants/{t}/jobs`, 2-4 actions each, some failing,
crashing or asking for a retry, some cancelled while queued or running), whose submit path has
faults of its own (SendMessageBatch, TransactWriteItems, Query). Some submissions of both kinds are
sync calls (`Prefer: wait=1`).

Asserted: the jobs that exist are exactly the ones callers were told were accepted (none lost, none
extra); each ends terminal within the bound with the outcome its input asks for; none has two
terminal states or two different results; every job's webhook is delivered or visibly exhausted,
in exactly one delivery per job (never one per action), under one webhook id; the webhook
dead-letter queue stays empty; and the jobs dead-letter queue ends holding only the poison
messages. For a multi-action job also: each action's outcome is the one its input asks for, every
action is counted once (`actions_ended == actions_total`), and the job's status follows from its
actions' (`actions_failed` if one failed; else cancelled, only after an accepted cancel; else
succeeded).
A sync call answered 200 carries the job's stored outcome.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
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
    # The multi-action path: its messages go out in one SendMessageBatch, the job and its actions
    # are stored in one TransactWriteItems, and a job is read with its actions by one Query. Only
    # the ~60 multi-action submits make the first two calls: higher rates, so each fault happens a
    # few times per run. (No crash after the store: that is API Gateway's 500 for a job that runs,
    # which a retrying client duplicates, as README's failure semantics say.)
    "dynamodb:TransactWriteItems": 0.06,
    "sqs:SendMessageBatch": 0.06,
    "lost:dynamodb:TransactWriteItems": 0.06,
    "lost:sqs:SendMessageBatch": 0.06,
    "lost:dynamodb:Query": 0.02,
    "crash-after:sqs:SendMessageBatch": 0.04,
}
CHECKPOINTING = {"duration_seconds": 5, "steps": 20, "checkpoint": True}
# (share of jobs, input, the terminal states allowed)
MIX = [
    (0.59, {}, {"succeeded"}),
    (0.10, {"fail_with": "action_error"}, {"failed"}),
    (0.05, {"fail_with": "exception"}, {"failed"}),
    (0.12, {"crash_on_attempts": 1}, {"succeeded"}),
    (0.10, {"transient_failures": 1}, {"succeeded"}),
    (0.04, {"duration_seconds": 3}, {"failed"}),  # outlives the 2 s timeout on every attempt
    # longer than its invocations: continues 3 times or more (at most 1.2 s of steps in each)
    (0.02, CHECKPOINTING, {"succeeded"}),
    # cancelled right after it is accepted: 200 -> cancelled; 202 -> whatever the action reaches
    # first (it sees the cancel at a progress report); 409 -> it had ended
    (0.06, {"duration_seconds": 0.4, "steps": 4}, {"cancelled", "succeeded"}),
]
CANCEL = len(MIX) - 1
# Multi-action jobs: how many, and the mix their actions are drawn from (2-4 per job), with the
# same meaning as MIX. A timed-out action ends `attempts_exhausted` (a failed action).
MULTI_JOBS = 60
ACTION_MIX = [
    (0.52, {}, {"succeeded"}),
    (0.12, {"fail_with": "action_error"}, {"failed"}),
    (0.04, {"fail_with": "exception"}, {"failed"}),
    (0.14, {"crash_on_attempts": 1}, {"succeeded"}),
    (0.14, {"transient_failures": 1}, {"succeeded"}),
    (0.04, {"duration_seconds": 3}, {"failed"}),
]
# One multi-action job in five is cancelled (half at once, half once running), its actions long
# enough (0.4 s, within the 2 s timeout) to be caught queued or running; some of them fail.
MULTI_CANCEL_SHARE = 0.2
CANCEL_ACTIONS = [
    ({"duration_seconds": 0.4, "steps": 4}, {"succeeded"}),
    ({"duration_seconds": 0.4, "steps": 4, "fail_with": "action_error"}, {"failed"}),
]
POISON = ("not json", "{}", '{"tenant_id": 1}')
REFUSED: defaultdict[int, int] = defaultdict(int)  # 5xx answers to run, by status
# A share of the submissions are sync calls (`Prefer: wait=1`, one-action and multi-action alike):
# a read failing during the wait must not turn an accepted job into a 5xx (the client's retry
# would then make a second job), and a 200 must be the job's final outcome. In the submission burst
# the queue's backlog is usually longer than the wait, so most of them are answered 202 (the run
# prints how many got a 200); tests/integration/test_multi_action.py covers the 200 itself.
SYNC_SHARE = 0.08
SYNC: dict[str, dict] = {}  # job id -> the 200 a sync call answered
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


JOBS_DLQ_TIMEOUT = "(>= its Timeout).\n      VisibilityTimeout: {}"


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    if __import__("os").environ.get("E2E_BASE_URL"):
        pytest.skip("fault injection runs against a local stack of its own")
    work = tmp_path_factory.mktemp("faults")
    template = copy_template(
        work,
        [
            # The executor: 2 s, so a zero-work invocation does not time out when the machine is
            # busy (on a loaded 2-core machine they took 0.6 s at the median, 0.9 s at p90, and a
            # 1 s timeout failed most of them); the 3 s actions still outlive it.
            ("      Timeout: 300\n", "      Timeout: 2\n"),
            ("VisibilityTimeout: 1800", "VisibilityTimeout: 4"),  # > the 2 s lease + its 1 s margin
            ("      Timeout: 30\n", "      Timeout: 2\n"),  # webhook delivery
            ("VisibilityTimeout: 180", "VisibilityTimeout: 4"),
            # the jobs dead-letter queue (not ScienceJobsDLQ's, the same 120: no science action runs)
            (JOBS_DLQ_TIMEOUT.format(120), JOBS_DLQ_TIMEOUT.format(5)),
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


def _submit(session, url, body, wait=False):
    """The job id of an accepted submission. With `wait`, a sync call (`Prefer: wait=1`): a 200
    (the job ended within the wait) is an acceptance too, and its answer is kept in SYNC."""
    headers = {"Prefer": "wait=1"} if wait else {}
    for _ in range(20):  # a client retries 5xx: the answer says nothing was started
        try:
            reply = session.post(url, json=body, headers=headers, timeout=30)
        except requests.ConnectionError:
            time.sleep(0.2)
            continue
        if reply.status_code == 202 or (wait and reply.status_code == 200):
            assert not wait or reply.headers.get("Preference-Applied") == "wait=1", reply.headers
            doc = reply.json()
            if reply.status_code == 200:
                assert doc["status"] in TERMINAL, doc
                SYNC[doc["job_id"]] = doc
            return doc["job_id"]
        assert reply.status_code >= 500, reply.text
        REFUSED[reply.status_code] += 1
        time.sleep(0.1)
    raise AssertionError("could not submit a job in 20 tries")


def _wait_started(session, status_url, **params):
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        reply = _get(session, status_url, **params)
        if reply.status_code == 200 and reply.json()["status"] != "queued":
            return
        time.sleep(0.2)


def _cancel(session, base, job_id):
    """(status code, body) of the first answer to a cancel that is not a 5xx."""
    for _ in range(20):
        try:
            reply = session.post(f"{base}/jobs/{job_id}/cancel", timeout=30)
        except requests.ConnectionError:
            time.sleep(0.2)
            continue
        if reply.status_code < 500:
            assert reply.status_code in (200, 202, 409), reply.text
            return reply.status_code, reply.json()
        time.sleep(0.1)
    raise AssertionError("could not cancel a job in 20 tries")


def _multi_jobs(rng):
    """(actions, their allowed outcomes, cancel: None | "queued" | "running") per multi-action job."""
    jobs = []
    for n in range(MULTI_JOBS):
        size = rng.randint(2, 4)
        cancel = None
        if rng.random() < MULTI_CANCEL_SHARE:
            cancel = "queued" if n % 2 else "running"
            picked = rng.choices(CANCEL_ACTIONS, weights=[4, 1], k=size)
        else:
            kinds = rng.choices(range(len(ACTION_MIX)), weights=[m[0] for m in ACTION_MIX], k=size)
            picked = [ACTION_MIX[k][1:] for k in kinds]
        actions = [{"name": "diagnostic", "params": params} for params, _ in picked]
        jobs.append((actions, [allowed for _, allowed in picked], cancel))
    return jobs


def _check_multi(job, actions, allowed, answered):
    """Checks one ended multi-action job against what was submitted and the cancel's answer (None
    if not cancelled); returns how many of its actions ended `attempts_exhausted`."""
    accepted = answered is not None and answered[0] in (200, 202)
    assert job["action"] == "multi_action", job
    assert job["actions_total"] == job["actions_ended"] == len(actions) == len(job["actions"]), job
    exhausted = 0
    for i, (spec, ok, got) in enumerate(zip(actions, allowed, job["actions"], strict=True)):
        assert (got["index"], got["action"]) == (i, "diagnostic"), got
        if got["status"] == "failed" and got["error"]["code"] == "attempts_exhausted":
            exhausted += 1
            continue
        assert got["status"] in ok | ({"cancelled"} if accepted else set()), (spec, got, answered)
        if got["status"] == "succeeded":
            assert "error" not in got and got["result"]["attempt"] >= 1, got
        if got["status"] == "failed":
            expected = spec["params"].get("fail_with")
            code = "diagnostic_failure" if expected == "action_error" else "action_error"
            assert got["error"]["code"] == code, (spec, got)
    statuses = [a["status"] for a in job["actions"]]
    failed, cancelled = statuses.count("failed"), statuses.count("cancelled")
    if failed:
        # a real failure is never hidden behind a cancel that came after it
        assert job["status"] == "failed" and job["error"]["code"] == "actions_failed", job
        also = f" and {cancelled} were cancelled" if cancelled else ""
        assert f"{failed} of {len(statuses)} actions failed{also};" in job["error"]["message"], job
    elif cancelled:
        # an action is cancelled only after the job's cancel was stored
        assert accepted and job["status"] == "cancelled", (answered, job)
    else:
        assert job["status"] == "succeeded", job
    if answered is not None and answered[0] == 200:
        assert job["status"] == answered[1]["status"], (answered, job)  # it had ended: it is that
    if answered is not None and answered[0] == 409:
        assert job["status"] in ("succeeded", "failed"), (answered, job)
    return exhausted


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


def _pages(session, url):
    """Every item of a paginated listing (`jobs` or `deliveries`), in order."""
    items, cursor = [], None
    while True:
        page = _get(session, url, limit=100, **({"cursor": cursor} if cursor else {})).json()
        items += page.get("jobs", page.get("deliveries", []))
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_no_job_lost_duplicated_or_left_running_under_faults(fault_stack):
    began = time.monotonic()
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
        multi_specs = _multi_jobs(random.Random(43))
        # one-action and multi-action submissions interleaved (an int: a MIX kind; a tuple: a
        # multi-action job), each with whether it is a sync call (never for those cancelled)
        picks = random.Random(45)
        work: list = [(k, k != CANCEL and picks.random() < SYNC_SHARE) for k in kinds]
        work += [(m, m[2] is None and picks.random() < 3 * SYNC_SHARE) for m in multi_specs]
        random.Random(44).shuffle(work)
        cancels: dict[str, tuple[int, dict]] = {}
        multi: dict[str, tuple] = {}  # job id -> its spec (actions, allowed outcomes, cancel)

        def cancel_when_started(target, url, **params):
            _wait_started(session, url, **params)
            cancels[target] = _cancel(session, base, target)

        pending_cancels = []
        with ThreadPoolExecutor(8) as pool, ThreadPoolExecutor(16) as later:

            def submit(item):
                kind, wait = item
                if isinstance(kind, tuple):  # the same client retries as run's
                    job_id = _submit(session, f"{base}/jobs", {"actions": kind[0]}, wait)
                    multi[job_id] = kind
                    if kind[2] == "running":
                        url = f"{base}/jobs/{job_id}"
                        pending_cancels.append(later.submit(cancel_when_started, job_id, url))
                    elif kind[2] == "queued":
                        cancels[job_id] = _cancel(session, base, job_id)
                    return job_id, None
                job_id = _submit(session, f"{base}/diagnostic/run", MIX[kind][1], wait)
                if kind == CANCEL and int(job_id[-1], 16) % 2:  # once running, or ended (409)
                    url = f"{base}/diagnostic/status"
                    pending_cancels.append(later.submit(cancel_when_started, job_id, url, job_id=job_id))
                elif kind == CANCEL:
                    cancels[job_id] = _cancel(session, base, job_id)  # at once: queued
                return job_id, kind

            submitted_all = list(pool.map(submit, work))
            ids = [(j, kind) for j, kind in submitted_all if kind is not None]  # one-action jobs
            # poison: messages no run function wrote
            sqs = fault_stack.boto3_client("sqs")
            queue = fault_stack.state["outputs"]["JobsQueueUrl"]
            for body in POISON:
                sqs.send_message(QueueUrl=queue, MessageBody=body)
            submitted = time.monotonic()
        for future in pending_cancels:
            future.result()  # a cancel that failed fails the test
        every = [j for j, _ in submitted_all]
        assert len(set(every)) == JOBS + MULTI_JOBS == len(every)

        # every accepted job ends, within the bound
        while True:
            final = {j["job_id"]: j for j in _pages(session, f"{base}/jobs")}
            # exactly the accepted jobs exist: none lost, none stored behind a 5xx (and the actions
            # of multi-action jobs are listed within their job, not as jobs)
            assert set(final) == set(every), "jobs exist that no caller was told about"
            open_jobs = [j for j in every if final[j]["status"] not in TERMINAL]
            if not open_jobs:
                break
            assert time.monotonic() - submitted < BOUND_S, (
                f"{len(open_jobs)} jobs not terminal: {open_jobs[:5]}"
            )
            # A full listing is 16 shard Queries a page on the local stack's one DynamoDB: polling
            # it every second competed with the executors it waits for.
            time.sleep(3)
        ended_in = time.monotonic() - submitted

        # Under these fault rates a job may use up its deliveries on infrastructure errors alone:
        # it then ends failed/attempts_exhausted, visibly. Every other ending is the expected one.
        exhausted = 0
        continued: list[int] = []  # continuations of each checkpointing job that succeeded
        for job_id, kind in ids:
            job = final[job_id]
            if job["status"] == "failed" and job["error"]["code"] == "attempts_exhausted":
                exhausted += 1
                continue
            assert job["status"] in MIX[kind][2], (MIX[kind][1], job)
            if MIX[kind][1] is CHECKPOINTING:  # listings leave the result out
                result = _get(session, f"{base}/jobs/{job_id}").json()["result"]
                # each invocation runs 1.2 s of steps at most: 5 claims at least, continued or
                # failed (a failed one's progress is kept by the checkpoints it wrote)
                assert result["continuations"] + result["attempt"] >= 5, (job, result)
                continued.append(result["continuations"])
            if kind == CANCEL:
                answered = cancels[job_id][0]
                expected = {200: {"cancelled"}, 202: {"cancelled", "succeeded"}, 409: {"succeeded"}}
                assert job["status"] in expected[answered], (answered, job)
        # the bar: jobs that ran through 3 continuations or more ended once, under the faults
        # (one outcome each: the webhook check below counts one delivery per job)
        assert sum(1 for n in continued if n >= 3) >= 1, f"checkpointing jobs continued {continued} times"
        timeouts = sum(
            1 for _, kind in ids if MIX[kind][1].get("duration_seconds") and MIX[kind][1] is not CHECKPOINTING
        )
        assert exhausted - timeouts < len(ids) * 0.05, f"{exhausted} jobs exhausted their deliveries"

        # Each multi-action job, read with its actions: every action's outcome is its input's, and
        # the job's follows from them.
        actions_exhausted = 0
        for job_id, (actions, allowed, _) in multi.items():
            job = _get(session, f"{base}/jobs/{job_id}").json()
            assert job["status"] == final[job_id]["status"], (job, final[job_id])
            actions_exhausted += _check_multi(job, actions, allowed, cancels.get(job_id))
        # a sync call's 200 is the job's outcome, as stored (its actions' too)
        for job_id, answer in SYNC.items():
            assert answer["status"] == final[job_id]["status"], (answer, final[job_id])
            if job_id in multi:
                stored = _get(session, f"{base}/jobs/{job_id}").json()["actions"]
                assert [a["status"] for a in answer["actions"]] == [a["status"] for a in stored]
        actions = [a for spec in multi.values() for a in spec[0]]
        action_timeouts = sum(1 for a in actions if a["params"].get("duration_seconds", 0) > 1)
        assert actions_exhausted - action_timeouts < len(actions) * 0.05, (
            f"{actions_exhausted} actions exhausted their deliveries"
        )

        # every webhook delivered (or visibly exhausted), none contradicting another
        deadline = time.monotonic() + BOUND_S
        while True:
            log = _pages(session, f"{base}/webhooks/{sub_id}/deliveries")
            deliveries = {d["job_id"]: d for d in log}
            pending = [
                j for j in every if deliveries.get(j, {}).get("status") not in ("succeeded", "exhausted")
            ]
            if not pending:
                break
            assert time.monotonic() < deadline, f"{len(pending)} webhooks neither delivered nor exhausted"
            time.sleep(1)
        received = defaultdict(list)
        for r in rx.received:
            payload = json.loads(r.body)
            received[payload["data"]["job_id"]].append((r.headers["webhook-id"], payload))

    # One delivery per job for the subscription (a multi-action job's actions have none of their
    # own), whatever was announced again.
    per_job = Counter(d["job_id"] for d in log)
    assert set(per_job) == set(every), set(per_job) ^ set(every)
    assert max(per_job.values()) == 1, [j for j, n in per_job.items() if n > 1][:5]
    assert set(received) <= set(every), set(received) - set(every)
    for job_id in every:
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
    stack_log = fault_stack.log()
    crashes = stack_log.count("Runtime exited unexpectedly")
    multi_final = Counter(final[j]["status"] for j in multi)
    action_final = Counter(
        a["status"] for j in multi for a in _get(session, f"{base}/jobs/{j}").json()["actions"]
    )
    webhook_ids = [len({wid for wid, _ in received[j]}) for j in every]
    multi_cancels = Counter(
        (cancels[j][0], cancels[j][1].get("status") or cancels[j][1]["error"]["code"])
        for j in multi
        if j in cancels
    )
    print(
        f"\n{len(ids)} jobs and {len(multi)} multi-action jobs ({len(actions)} actions) terminal "
        f"{ended_in:.0f} s after the last submission; lost 0 (jobs stored: {len(final)}, accepted: "
        f"{len(every)}), with two outcomes 0; {exhausted} jobs and {actions_exhausted} actions exhausted; "
        f"multi-action jobs {dict(multi_final)}, their actions {dict(action_final)}; "
        f"{sum(len(v) for v in received.values())} webhook requests for {len(log)} deliveries "
        f"({max(per_job.values())} at most per job; webhook ids per job {dict(Counter(webhook_ids))}); "
        f"run answered {dict(REFUSED)} before accepting; {sum(w for _, w in work)} sync calls, "
        f"{len(SYNC)} answered 200 with the ended job; cancels answered "
        f"{ {c: [a for a, _ in cancels.values()].count(c) for c in (200, 202, 409)} } (multi-action jobs: "
        f"{ {f'{c} {s}': n for (c, s), n in sorted(multi_cancels.items())} }); "
        f"{crashes} function crashes; checkpointing jobs continued {sorted(continued)} times; "
        f"injected on the multi-action submit path: "
        f"{stack_log.count('SendMessageBatch failed')} SendMessageBatch, "
        f"{stack_log.count('transact_write_items failed')} TransactWriteItems failures; "
        f"{time.monotonic() - began:.0f} s in all"
    )
