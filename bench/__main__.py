"""`make bench`: measures cold start, cost per job, the local stack under load and warm overhead,
prints a table and writes BENCHMARKS.md (figures, the command, the machine)."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for key, value in (
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(key, value)

import moto  # noqa: E402,F401  (before any boto3 client)

COLD_TARGET = 1.25
COST_TARGET = 7.0
WARM_TARGET_MS = 2.0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def scale_on_paper(cost: dict[str, Any]) -> str:
    from asyncjobs.jobs.store import SHARDS
    from asyncjobs.webhooks.store import SHARDS as DELIVERY_SHARDS

    per_job = cost["total_usd_per_million"] / 1e6
    month = 30 * 86400
    job_writes = 3  # a one-action job's writes on its own item: create, claim, finish
    tenant_ceiling = SHARDS * 1000 // job_writes
    rows = []
    for rate in (100, 1_000, 10_000):
        writes = rate * cost["ddb_wru_per_job"]
        rows.append(
            f"| {rate:,} | ${per_job * rate * month:,.0f} | {rate * 3:,} req/s (run + ~2 polls) | "
            f"{rate * 0.05:,.0f} + {rate} × action s | {writes:,.0f} WRU/s | {rate:,} PutEvents/s |"
        )
    return "\n".join(
        [
            "| jobs/s | cost / 30 days | API Gateway | Lambda concurrency (run; executor) | DynamoDB writes | EventBridge |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            "**One tenant's ceiling.** One DynamoDB partition key value takes at most 1,000 write units"
            " and 3,000 read units a second, and a job id (UUIDv7) always sorts last, so split-for-heat"
            " cannot spread one key's writes. No key is one tenant's alone any more:",
            "",
            "| what a tenant's jobs write or read | key | limit per tenant |",
            "| --- | --- | --- |",
            f"| a job's item: create, claim, finish ({job_writes} write units; more with progress) |"
            f" `<tenant>#<shard>`, {SHARDS} shards by a hash of the job id | {SHARDS} × 1,000 / {job_writes}"
            f" ≈ **{tenant_ceiling:,} jobs/s** |",
            f"| its `ByAction` index entry (keys only: written once, at create) | `<tenant>#<action>#<shard>` |"
            f" {SHARDS * 1000:,} jobs/s per action |",
            "| a 3-action job: 4 items in one transaction (2 units each), 2 writes per action, 3 action"
            " ends, 1 start, 1 end = 19 units | its job's shard |"
            f" {SHARDS} × 1,000 / 19 ≈ {SHARDS * 1000 // 19:,} jobs/s ({3 * SHARDS * 1000 // 19:,} actions/s) |",
            "| its webhook's delivery record: 1 write when the first attempt succeeds, 2 more per retry"
            f" (claim, result) | `SUB#<subscription>#<shard>`, {DELIVERY_SHARDS} shards by a hash of the"
            f" delivery id | {DELIVERY_SHARDS * 1000:,} deliveries/s per subscription;"
            f" {DELIVERY_SHARDS * 1000 // 15:,}/s to a receiver down through all 8 attempts (15 writes each) |",
            "| the webhook fan-out's read of the tenant's subscriptions (one strongly consistent Query) |"
            " `TENANT#<tenant>` | 3,000 jobs/s (twice that eventually consistent) |",
            "",
            "Before this key design one tenant's jobs shared one key: 1,000 / 3 ≈ 333 one-action jobs/s,"
            " and `ByAction` (projecting every attribute) took another 3 writes per job on one key per"
            " action. What that costs: a page of a listing reads every shard (16 Queries, at least 8 read"
            " units: about $1 per million pages, where one Query cost $0.125), run together on a pool so a"
            " page takes about one Query's time.",
            "",
            "What binds first, and what to change:",
            "",
            "- **100 jobs/s**: the template's own stage throttle (`ThrottlingRateLimit` 50 req/s, burst 100)"
            " refuses most requests with 429: raise both parameters. Lambda concurrency: the executor needs"
            " 100 × (action seconds); the account default of 1,000 binds at 10 s actions; ask for more, or"
            " cap `MaximumConcurrency` on the SQS event source so jobs wait in the queue rather than throttle.",
            "- **1,000 jobs/s**: Lambda concurrency (an increase for anything but short actions) and API"
            " Gateway's account quota (10,000 req/s per region, run + status polls: 3,000 req/s here)."
            " DynamoDB no longer binds: one tenant alone can run about"
            f" {tenant_ceiling:,} one-action jobs/s.",
            "- **10,000 jobs/s**: **EventBridge PutEvents** (10,000 requests/s in us-east-1): batch up to 10"
            " entries per call or request an increase; API Gateway's 10,000 req/s account quota is hit by"
            " run + status polls (use webhooks instead of polling, raise the quota); DynamoDB's default"
            f" 40,000 write units/s per table is passed ({10_000 * cost['ddb_wru_per_job']:,.0f}/s): request"
            " an increase. SQS standard queues have no practical limit here. One tenant at this rate would"
            f" pass its {tenant_ceiling:,} jobs/s: more shards (`SHARDS` in `jobs/store.py`, fixed before"
            " the first deployment: changing it re-keys every item).",
        ]
    )


def sync_section(
    sync_cost: dict[str, Any],
    multi_cost: dict[str, Any],
    cost: dict[str, Any],
    waiting: dict[str, Any],
    latency: dict[str, Any],
) -> list[str]:
    """Sync mode, waiting calls and multi-action jobs: latency, cost per second waited, cost per job."""
    from bench.sync import TARGET_MS

    kinds = [
        ("one-action job (run, one status poll)", cost),
        ("sync call (run with `Prefer: wait=10`, no status poll)", sync_cost),
        ("3-action job (run, one status poll)", multi_cost),
    ]
    items = list(cost["usd_per_million"])
    parts = latency["parts_p50_ms"]
    parts90 = latency["parts_p90_ms"]
    miss = latency["p50_ms"] > TARGET_MS
    rows = waiting["rows"]
    poll = waiting["poll"]
    per_s = waiting["usd_per_million_per_s"]
    return [
        SYNC_HEADING,
        "",
        "How a call waits (`Prefer: wait=N` on run, on `POST …/jobs`, on the status routes and"
        " `GET …/jobs/{job_id}`; `use_cases.wait`): the function that answers the request reads the"
        " job with one strongly consistent GetItem at once, then after pauses of 0.05, 0.1, 0.2, 0.3"
        " and 0.5 s, then every 0.5 s, sleeping in between (`POLL_INTERVALS_S`), and answers as soon"
        " as the job has ended (a multi-action job"
        " is then read once more with its actions, one Query), or at the end of the wait (at most"
        " 25 s, below API Gateway's 30 s) with the job as it is. There is no stream, queue or"
        " notification: the executor does nothing more for a job someone waits on, and a waiting"
        " call costs only its own Lambda duration and reads. A job that ends is seen within 0.5 s.",
        "",
        f"**Latency of a zero-work sync call** on the local stack: `POST /v2/tenants/demo/diagnostic/run`,"
        f" body `{{}}`, `Prefer: wait=10`, over HTTP, {latency['calls']} calls one after another after a"
        " warm-up, each answered 200 with the finished job.",
        "",
        "| figure | ms |",
        "| --- | --- |",
        f"| p50 | {latency['p50_ms']:.0f} (target ≤ {TARGET_MS:.0f}{': missed' if miss else ''}) |",
        f"| p90 | {latency['p90_ms']:.0f} |",
        f"| accept: request sent → run function submits (`created_at`) | {parts['accept']:.0f}"
        f" (p90 {parts90['accept']:.0f}) |",
        f"| pickup: submitted → executor claimed it (`started_at`) | {parts['pickup']:.0f}"
        f" (p90 {parts90['pickup']:.0f}) |",
        f"| run: claimed → end stored (`finished_at`) | {parts['run']:.0f} (p90 {parts90['run']:.0f}) |",
        f"| noticed: end stored → answer received | {parts['noticed']:.0f} (p90 {parts90['noticed']:.0f}) |",
        "",
        "(Medians of each part; they need not add up to the median call.)",
        "",
        "Where the time goes. *Noticed* is the polling schedule: a zero-work job has ended about"
        f" {parts['pickup'] + parts['run']:.0f} ms after it was submitted, and the waiting call sees it at its"
        " next read (0.05 s after the first, then 0.15 s), plus the answer's way back. *Pickup* is"
        " short: the local stack's SQS poller long-polls moto, which wakes it as soon as a message"
        " arrives. The run function sends the job's message before it stores the job, so the executor"
        " sometimes receives it before the job's PutItem has landed; it then looks again after 20, 50,"
        f" 100, 150 and 180 ms (`STORE_GRACE_S` = {latency['grace_s']} s in all, `jobs/executor.py`"
        " `_find`), where it once waited the whole 0.5 s, which made the p90 of an earlier run 697 ms."
        " Changed to get here: the local stack's HTTP server sets TCP_NODELAY. It wrote an answer's"
        " headers and body in two writes, and the body waited for the client's delayed ACK of the"
        " headers (Nagle's algorithm), adding ~40 ms to every answer over a kept-alive connection:"
        " the median sync call went from 136 ms to 92 ms (two runs of this benchmark on 2026-11-26).",
        "",
        f"**A waiting call's cost**, counted on a status call (`GET …/diagnostic/status`, `Prefer: wait=N`)"
        f" on a job that does not end, StatusFunction at {waiting['memory_mb']} MB (arm64):",
        "",
        "| wait | billed duration | AWS requests | GetItem | $ per million such calls |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {r['wait_s']} s | {r['billed_ms']} ms | {sum(r['calls'].values())} | {r['get_items']} |"
            f" {r['usd'] * 1e6:.2f} |"
            for r in rows
        ],
        "",
        f"Each second waited adds {waiting['get_items_per_s']:.1f} GetItem calls and"
        f" **${per_s:.2f} per million waiting calls** (of which Lambda duration"
        f" ${waiting['lambda_usd_per_million_per_s']:.2f}, reads the rest); the request itself"
        " (API Gateway, Lambda request, the first reads) is paid once per call. For comparison, one"
        f" status poll without a wait ({sum(poll['calls'].values())} AWS request, {poll['billed_ms']} ms)"
        f" costs ${poll['usd'] * 1e6:.2f} per million, the price of {poll['usd'] * 1e6 / per_s:.1f} s"
        " of waiting: a wait is the cheaper way to learn of an end only when it replaces more polls.",
        "",
        "**Cost per job**, counted like the one-action lifecycle above (requests on the functions'"
        " own clients, each with its webhook delivery):",
        "",
        "| item | " + " | ".join(name for name, _ in kinds) + " |",
        "| --- | " + " | ".join("---" for _ in kinds) + " |",
        *[f"| {i} | " + " | ".join(f"{c['usd_per_million'][i]:.2f}" for _, c in kinds) + " |" for i in items],
        "| **total $ per million** | "
        + " | ".join(f"**{c['total_usd_per_million']:.2f}**" for _, c in kinds)
        + " |",
        "| Lambda invocations | "
        + " | ".join(f"{sum(c['lambda_invocations_per_job'].values()):.0f}" for _, c in kinds)
        + " |",
        "| AWS requests | "
        + " | ".join(f"{sum(c['requests_per_job'].values()):.1f}" for _, c in kinds)
        + " |",
        "| DynamoDB write / read units | "
        + " | ".join(f"{c['ddb_wru_per_job']:.1f} / {c['ddb_rru_per_job']:.1f}" for _, c in kinds)
        + " |",
        "| run function billed ms (p50) | "
        + " | ".join(f"{c['run_function_ms_p50']}" for _, c in kinds)
        + " |",
        "",
        f"3-action job requests: {multi_cost['requests_per_job']}. Sync call requests:"
        f" {sync_cost['requests_per_job']}. The sync call saves the status poll's API Gateway request,"
        " Lambda request and read, and pays instead for the run function's duration while it waits"
        " (here the executor runs in-process against moto, so the wait is short: on AWS it is the"
        " queue's pickup plus the action, billed at the run function's memory).",
        "",
    ]


def cost_floor(cost: dict[str, Any]) -> list[str]:
    """What the design card's shape costs a job at the least, item by item, against the target."""
    from bench.cost import PRICE

    fixed = [
        ("API Gateway: the run and the status poll", 2 * PRICE["apigw_http_request"]),
        ("EventBridge: the job's event", PRICE["eventbridge_event"]),
        ("Lambda requests: run, status, executor, webhook fan-out", 4 * PRICE["lambda_request"]),
        ("SQS: the job's message sent, received and deleted (batch size 1)", 3 * PRICE["sqs_request"]),
        (
            "DynamoDB: the job created, claimed and ended, the delivery written (4 write units)",
            4 * PRICE["ddb_wru"],
        ),
        ("DynamoDB: the status poll's read", PRICE["ddb_rru"]),
    ]
    floor = sum(v for _, v in fixed) * 1e6
    rest = cost["total_usd_per_million"] - floor
    return [
        f"Missed by ${cost['total_usd_per_million'] - COST_TARGET:.2f}, and no design of this shape can"
        f" meet ${COST_TARGET:.2f}: what the design card and the guarantees make every job pay is"
        f" already ${floor:.2f}:",
        "",
        "| what every job pays | $ per million |",
        "| --- | --- |",
        *[f"| {name} | {v * 1e6:.3f} |" for name, v in fixed],
        f"| **the floor** | **{floor:.2f}** |",
        f"| measured above, beyond the floor: the executor's read, the fan-out's two reads, the index entry,"
        f" Lambda duration | {rest:.2f} |",
        "",
        "Going lower means giving up something the product promises: a job that is not claimed before"
        " it runs (status would read `queued` while it runs, and two copies of its message could run it"
        " twice at once: -0.63), a listing by action without its index (a scan of the tenant's jobs:"
        " -0.63), a webhook without its delivery record (no delivery log: -0.63), or the SQS queue or"
        " the EventBridge rule the design card names. A lower price per request (provisioned DynamoDB"
        " capacity, API Gateway's volume tiers) lowers the floor without changing the code.",
        "",
    ]


# Why a function still misses the target, for those that do (measured in a process that already
# imported boto3: pydantic ~64 ms, the 1.25x budget ~51 ms above a ~205 ms floor).
COLD_REASONS = {
    "RunFunction": "it validates the action's input with the action's pydantic model (pydantic alone takes"
    " more than the budget above the floor)",
    "ExecutorFunction": "it builds the action's pydantic input model and runs the action (pydantic alone"
    " takes more than the budget above the floor)",
    "ScienceExecutorFunction": "the executor's code (measured with a standard action's job): it builds the"
    " action's pydantic input model and runs the action",
    "ReconcilerFunction": "no heavy import is left; its first event makes three AWS requests (read the job,"
    " end it, publish its event), round trips the floor does not count",
}


def cold_misses(cold: dict[str, Any]) -> list[str]:
    missed = {
        f: v["compiled"] / v["floor"] for f, v in cold.items() if v["compiled"] / v["floor"] > COLD_TARGET
    }
    if not missed:
        return [f"Every function is within {COLD_TARGET}× of its floor, as shipped with .pyc.", ""]
    parts = [
        f"{f} ({r:.2f}×): {COLD_REASONS.get(f, 'within the noise of this machine, or its first event makes more AWS calls than the floor counts')}"
        for f, r in missed.items()
    ]
    return [
        f"Missed (as shipped with .pyc): {'; '.join(parts)}. Action inputs are pydantic models: they"
        " give validation, its messages and the OpenAPI schemas of every action from one declaration;"
        " meeting the target for run and executor means validating inputs without pydantic.",
        "",
    ]


# Lambda SnapStart for Python, us-east-1 list prices (AWS Lambda pricing, checked 2026-11).
SNAPSTART_CACHE_GB_S = 0.0000015046  # per GB-second a published version's snapshot is cached (3 h at least)
SNAPSTART_RESTORE_GB = 0.0001397998  # per GB restored, at every cold start it serves
HTTP_FUNCTIONS = ("RunFunction", "StatusFunction", "WebhooksFunction", "HavenFunction")


def snapstart_section(cold: dict[str, Any], memory_mb: int = 512) -> list[str]:
    """Lambda SnapStart, evaluated for the HTTP functions against what a cold start costs now."""
    from bench.cost import PRICE

    gb = memory_mb / 1024
    measured = [cold[f]["compiled"] for f in HTTP_FUNCTIONS if f in cold]
    init_ms = max(measured) if measured else 0.0
    init_usd = init_ms / 1000 * gb * PRICE["lambda_gb_s_arm"] * 1e6
    restore_usd = SNAPSTART_RESTORE_GB * gb * 1e6
    cache_month = SNAPSTART_CACHE_GB_S * gb * 30 * 86400
    return [
        "### Lambda SnapStart: evaluated, not enabled",
        "",
        "SnapStart (Python 3.12+) runs a function's INIT when a version is published, snapshots the"
        " initialised microVM and restores it at each cold start instead of running INIT again. For the"
        f" HTTP functions at {memory_mb} MB (arm64):",
        "",
        "| per cold start | $ per million cold starts |",
        "| --- | --- |",
        f"| INIT as billed today (the slowest HTTP function's cold start above, {init_ms:.0f} ms, billed as"
        f" duration) | {init_usd:.2f} |",
        f"| a SnapStart restore (${SNAPSTART_RESTORE_GB:.10f} per GB restored) | {restore_usd:.2f} |",
        "",
        f"plus ${cache_month:.2f} a month for each published version's cached snapshot"
        f" (${SNAPSTART_CACHE_GB_S:.10f} per GB-second), for each of the {len(HTTP_FUNCTIONS)} HTTP functions."
        f" A restore costs about {restore_usd / init_usd if init_usd else 0:.0f}× the INIT it replaces: with"
        " cold starts this close to the `import boto3` floor there is little latency left for it to win"
        " (its restore time cannot be measured off AWS), and every cold start would cost more. It would"
        " also need `AutoPublishAlias` on each function and API Gateway integrations pointing at the"
        " alias. Enable it if cold-start latency matters more to you than its price: the code is"
        " snapshot-safe. Ids, secrets and keys come from `os.urandom`/`secrets` at each call (nothing"
        " random is seeded during INIT); no AWS client, connection or credential exists after INIT"
        " (clients are created on the first request, so after a restore); the Haven key cache starts"
        " empty.",
        "",
    ]


def write_report(
    cold: dict[str, Any],
    cost: dict[str, Any],
    cost_big: dict[str, Any],
    load: dict[str, Any],
    ceiling: dict[str, Any],
    warm: dict[str, float],
    seconds: float,
    rounds: int,
    sync_cost: dict[str, Any],
    multi_cost: dict[str, Any],
    waiting: dict[str, Any],
    sync_latency: dict[str, Any],
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}, on {machine()}, in {seconds:.0f} s."
        " Every figure is a median over repeated runs; ratios compare runs made side by side, interleaved,"
        " in the same invocation. This machine is shared and noisy: compare ratios, not absolute times.",
        "",
        "## Cold start",
        "",
        f"A fresh interpreter imports the handler and serves its first event (AWS answered by a moto server),"
        f" against the floor `import boto3` + the clients that event needs. Median of {rounds} runs each."
        f" Target ≤ {COLD_TARGET}× the floor.",
        "",
        "| function | floor ms | dev ms (×) | as `sam build` ships it ms (×) | with precompiled .pyc ms (×) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for fn, v in cold.items():
        f = v["floor"]
        lines.append(
            f"| {fn} | {f:.0f} | {v['dev']:.0f} ({v['dev'] / f:.2f}×) | {v['shipped']:.0f} ({v['shipped'] / f:.2f}×) |"
            f" {v['compiled']:.0f} ({v['compiled'] / f:.2f}×) |"
        )
    lines += [
        "",
        "Changed to get here (issue 12; the last report had status 1.92×, run 2.08×, executor 1.86×,"
        " webhooks 1.92×, webhook delivery 1.40×): the HTTP API functions route with a small router of"
        " our own (`http/router.py`) instead of Powertools' resolver, whose package cost ~35-40 ms per cold"
        " start (it imports every resolver, the event data classes and asyncio), with the same route"
        " declarations, validation errors and answers (a test sends refused requests through both and"
        " compares), while Powertools still builds the OpenAPI document from them offline; pydantic (~64 ms"
        " to import) loads only where a route reads a body or an action's input is built: actions are"
        " declared in a pydantic-free registry and their modules imported on first use; the SQS-triggered"
        " functions report partial batch failures with a module of our own instead of Powertools' batch"
        " utility (~32 ms to import, for ~20 lines of logic); boto3's objects are frozen out of the garbage"
        " collector's scans once imported (`gc.freeze`). Earlier: no Tracer (it imports the X-Ray SDK"
        " even when tracing is off); AWS clients created on first use; `make build` adds precompiled"
        " bytecode (`compileall --invalidation-mode unchecked-hash`), since `sam build` ships none and the"
        " code directory is read-only.",
        "",
        *cold_misses(cold),
        *snapstart_section(cold),
        "## Cost per job",
        "",
        "One job's lifecycle: one run, one status poll, the execution, one webhook delivery; requests counted"
        " on the functions' own clients (moto), priced at us-east-1 list prices.",
        "",
        "| item | $ per million jobs |",
        "| --- | --- |",
        *[f"| {k} | {v:.2f} |" for k, v in cost["usd_per_million"].items()],
        f"| **total** | **{cost['total_usd_per_million']:.2f}** (target ≤ {COST_TARGET:.2f}) |",
        f"| the same lifecycle orchestrated by Step Functions Standard | {cost['step_functions_usd_per_million']:.2f}"
        f" ({cost['step_functions_usd_per_million'] / cost['total_usd_per_million']:.1f}× ours) |",
        "",
        f"Per job: {cost['lambda_invocations_per_job']} Lambda invocations, {cost['sqs_requests_per_job']:.0f}"
        f" SQS requests, {cost['ddb_wru_per_job']:.1f} DynamoDB write units, {cost['ddb_rru_per_job']:.1f} read"
        f" units; requests {cost['requests_per_job']}.",
        "",
        f"The count does not grow with the table: with {cost['prefill']:,} other jobs of the tenant in the table"
        f" the lifecycle makes {sum(cost['requests_per_job'].values()):.1f} AWS requests, with"
        f" {cost_big['prefill']:,} it makes {sum(cost_big['requests_per_job'].values()):.1f}"
        f" (${cost_big['total_usd_per_million']:.2f} per million).",
        "",
        "Changed to get here (issue 12: $11.38 on the last report, $13.03 once the index writes were"
        " counted): the webhook fan-out makes each delivery's first attempt itself and writes the delivery"
        " once, with its result (only retries go through SQS: a webhook delivered at once costs no SQS"
        " message, no second invocation, one DynamoDB write, where it cost 3 SQS requests, an invocation"
        " and 3 writes); `ByAction` projects keys only, so its entry is written once, at create (it"
        " projected every attribute: every write of a job wrote it again, 3 write units per job that the"
        " bench did not count until now: it now computes every index's writes from each written item before"
        " and after); a multi-action job's start is marked by its first action only. Earlier: a job writes"
        " progress only once it has run a whole progress interval, so a short job costs three writes of"
        " its own (create, claim, finish).",
        "",
        *cost_floor(cost),
        *sync_section(sync_cost, multi_cost, cost, waiting, sync_latency),
        "## The local stack under load",
        "",
        f"{load['jobs']:,} jobs submitted over HTTP by {load['clients']} concurrent clients to `make local`'s"
        " stack, each announced by webhook to a receiver on 127.0.0.1.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| throughput (first submit → last webhook) | {load['jobs_per_s']:.1f} jobs/s |",
        f"| submit → succeeded p50 / p99 | {load['submit_to_succeeded_p50_ms']:.0f} / {load['submit_to_succeeded_p99_ms']:.0f} ms |",
        f"| completion → webhook received p50 / p99 | {load['completion_to_webhook_p50_ms']:.0f} / {load['completion_to_webhook_p99_ms']:.0f} ms |",
        f"| ceiling: moto answering the same {ceiling['calls_per_job']} calls per job directly | {ceiling['jobs_per_s']:.1f} jobs/s ({ceiling['requests_per_s']:.0f} requests/s) |",
        f"| ratio | {load['jobs_per_s'] / ceiling['jobs_per_s']:.2f} of the ceiling |",
        "",
        "## Warm overhead",
        "",
        f"CPU time per request in a warm function, AWS calls excluded (median of 300). Target ≤ {WARM_TARGET_MS} ms.",
        "",
        "| function | ms |",
        "| --- | --- |",
        *[f"| {k} | {v:.2f} |" for k, v in warm.items()],
        "",
        "## Scale on paper",
        "",
        scale_on_paper(cost),
        "",
        "## Reproduce",
        "",
        "```",
        f"make bench            # BENCH_ROUNDS={rounds} BENCH_JOBS={load['jobs']}",
        "PYTHONPATH=.:layers/jobs .venv/bin/python -m bench --only sync   # the sync-mode section alone",
        "PYTHONPATH=.:layers/jobs .venv/bin/python -m bench --only coldstart --rounds 21   # prints the cold-start table",
        "```",
        "",
    ]
    return "\n".join(lines)


SYNC_HEADING = "## Sync mode and waiting calls"


def only_sync(out: Path) -> int:
    """Measures the sync-mode section alone and puts it in place in an existing report."""
    from bench import cost, sync

    print("cost per job: one action, 3 actions, a sync call; a waiting call…", flush=True)
    one, multi = cost.measure(100), cost.measure(100, "three_actions")
    sync_cost, waiting = cost.measure(100, "sync"), cost.waiting_cost()
    print("sync call latency…", flush=True)
    latency = sync.latency()
    section = sync_section(sync_cost, multi, one, waiting, latency)
    section[1:1] = [
        "",
        f"Measured by `python -m bench --only sync` on {time.strftime('%Y-%m-%d')}, on {machine()}.",
    ]
    text = out.read_text()
    start = text.find(SYNC_HEADING)
    if start < 0:
        start = end = text.index("## The local stack under load")
    else:
        end = text.index("\n## ", start) + 1
    out.write_text(text[:start] + "\n".join(section) + "\n" + text[end:])
    print("\n".join(section))
    return 0


def only_coldstart(args: argparse.Namespace) -> int:
    """Measures cold starts alone (chosen functions and variants) and prints the table."""
    from bench import coldstart
    from bench.stack import bench_stack

    variants = tuple(v for v in coldstart.VARIANTS if v == "floor" or v in args.variants.split(","))
    functions = args.functions.split(",") if args.functions else None
    with bench_stack() as stack:
        cold = coldstart.measure(stack, args.rounds, functions, variants)
    print(f"Cold start with the first event, median of {args.rounds} interleaved rounds, on {machine()}:")
    print(coldstart.table(cold, COLD_TARGET))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 21)))
    p.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_JOBS", 1000)))
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument(
        "--only",
        choices=["sync", "coldstart"],
        help="sync: measure only sync mode, waiting calls and multi-action jobs, and replace that "
        "section of --out (the other sections keep their figures); coldstart: measure only cold "
        "starts and print their table (--out is left alone)",
    )
    p.add_argument(
        "--functions",
        help="with --only coldstart: comma-separated logical ids (default: every function)",
    )
    p.add_argument(
        "--variants",
        default="floor,compiled",
        help="with --only coldstart: comma-separated, of floor, dev, shipped, compiled "
        "(default: floor,compiled; floor is always measured)",
    )
    args = p.parse_args()
    began = time.time()
    if args.only == "sync":
        return only_sync(args.out)
    if args.only == "coldstart":
        return only_coldstart(args)
    from bench import coldstart, cost, load, sync, warm
    from bench.stack import bench_stack

    print("cold start…", flush=True)
    with bench_stack() as stack:
        cold = coldstart.measure(stack, args.rounds)
    print("cost per job…", flush=True)
    small, big = cost.measure(100), cost.measure(10_000)
    print("cost of a 3-action job, a sync call, a waiting call…", flush=True)
    multi, sync_cost = cost.measure(100, "three_actions"), cost.measure(100, "sync")
    waiting = cost.waiting_cost()
    print("warm overhead…", flush=True)
    warm_ms = warm.measure()
    print("sync call latency…", flush=True)
    sync_latency = sync.latency()
    print("moto ceiling…", flush=True)
    ceiling = load.moto_ceiling()
    print(f"local stack, {args.jobs} jobs…", flush=True)
    loaded = load.local_stack(args.jobs)
    report = write_report(
        cold,
        small,
        big,
        loaded,
        ceiling,
        warm_ms,
        time.time() - began,
        args.rounds,
        sync_cost,
        multi,
        waiting,
        sync_latency,
    )
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
    del subprocess
