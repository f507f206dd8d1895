"""Sync mode on the local stack: a zero-work `POST …/diagnostic/run` with `Prefer: wait=10`, over
real HTTP, one call after another, and where its time goes.

Each answer carries the job's own timestamps (`created_at` when the run function began to submit,
`started_at` when the executor claimed it, `finished_at` when it wrote the end). With the client's
send and receive times on the same clock they split a call into: accept (HTTP, authorizer, run
function until it submits), pickup (send + store, the SQS poller's receive, the executor's read
and claim), run (the action and its terminal write), and noticed (from the end being stored to
the answer received: the wait's polling slack, its last read, the answer's way back). Timestamps
are kept to the millisecond.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from tests.e2e.client import LocalStackProcess

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 150.0


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency(calls: int = 50, warmup: int = 10, tenant: str = "demo") -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="sync-"))
    with LocalStackProcess(ROOT / "template.yaml", work) as stack:
        key = stack.create_key(tenant)
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        url = f"{stack.base_url}/v2/tenants/{tenant}/diagnostic/run"
        parts: dict[str, list[float]] = {k: [] for k in ("total", "accept", "pickup", "run", "noticed")}
        for n in range(warmup + calls):
            sent = time.time()
            reply = http.post(url, json={}, headers={"Prefer": "wait=10"}, timeout=30)
            got = time.time()
            assert reply.status_code == 200, (reply.status_code, reply.text)
            assert reply.headers.get("Preference-Applied") == "wait=10", reply.headers
            doc = reply.json()
            assert doc["status"] == "succeeded", doc
            if n < warmup:  # warm environments, cached authorizer, warm connections
                continue
            created, started, finished = (_epoch(doc[k]) for k in ("created_at", "started_at", "finished_at"))
            parts["total"].append((got - sent) * 1000)
            parts["accept"].append((created - sent) * 1000)
            parts["pickup"].append((started - created) * 1000)
            parts["run"].append((finished - started) * 1000)
            parts["noticed"].append((got - finished) * 1000)
        from asyncjobs.jobs.executor import STORE_GRACE_S

        return {
            "calls": calls,
            "grace_s": STORE_GRACE_S,
            "p50_ms": pct(parts["total"], 50),
            "p90_ms": pct(parts["total"], 90),
            "parts_p50_ms": {k: pct(v, 50) for k, v in parts.items() if k != "total"},
            "parts_p90_ms": {k: pct(v, 90) for k, v in parts.items() if k != "total"},
        }


if __name__ == "__main__":  # python -m bench.sync: this part alone
    import json

    print(json.dumps(latency(), indent=2))
