"""The `asyncjobs` command as a user runs it: a process configured by environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.client.proxy import Proxy, Step
from tests.receiver import Answer, Receiver
from tests.support import ROOT


def asyncjobs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m asyncjobs_client ARGS` (what the `asyncjobs` script runs), this checkout's code."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT / "client" / "src")}
    return subprocess.run(
        [sys.executable, "-m", "asyncjobs_client", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_wait_json_shows_progress_on_stderr_and_the_job_on_stdout(cli_env):
    done = asyncjobs(
        cli_env, "run", "diagnostic", "--input", '{"duration_seconds": 2, "steps": 4}', "--wait", "--json"
    )
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["result"]["steps"] == 4
    bars = done.stderr.splitlines()  # not a terminal: one line per change
    assert bars[-1] == "[####################] 100% succeeded", done.stderr
    assert any("in_progress" in line for line in bars)

    status = asyncjobs(cli_env, "status", job["job_id"])
    assert status.returncode == 0 and "succeeded" in status.stdout and job["job_id"] in status.stdout
    listed = asyncjobs(cli_env, "jobs", "list", "--json")
    assert [j["job_id"] for j in json.loads(listed.stdout)["jobs"]] == [job["job_id"]]


def test_exit_codes(cli_env):
    failed = asyncjobs(cli_env, "run", "diagnostic", "--input", '{"fail_with": "action_error"}', "--wait")
    assert failed.returncode == 3 and "diagnostic_failure" in failed.stderr
    invalid = asyncjobs(cli_env, "run", "diagnostic", "--input", '{"duration_seconds": -1}')
    assert invalid.returncode == 1
    assert "422 validation_failed" in invalid.stderr and "duration_seconds" in invalid.stderr
    late = asyncjobs(
        cli_env, "run", "diagnostic", "--input", '{"duration_seconds": 5}', "--wait", "--timeout", "1"
    )
    assert late.returncode == 4 and "timed out" in late.stderr
    assert asyncjobs(cli_env, "run", "diagnostic", "--input", "not json").returncode == 2
    assert asyncjobs({**cli_env, "ASYNCJOBS_TENANT": ""}, "jobs", "list").returncode == 2
    unknown = asyncjobs(cli_env, "status", "01a203b7-0e11-74d0-ad5d-dde9fe7bd4df")
    assert unknown.returncode == 1 and "404 not_found" in unknown.stderr


def test_webhooks_commands(cli_env):
    with Receiver() as rx:
        created = asyncjobs(cli_env, "webhooks", "create", rx.url, "--event", "job.succeeded", "--json")
        assert created.returncode == 0, created.stderr
        sub = json.loads(created.stdout)
        assert sub["secret"].startswith("whsec_")
        ran = asyncjobs(cli_env, "run", "diagnostic", "--wait", "--json")
        job_id = json.loads(ran.stdout)["job_id"]
        listed = asyncjobs(cli_env, "webhooks", "list")
        assert sub["id"] in listed.stdout and rx.url in listed.stdout
        for _ in range(100):
            log = json.loads(asyncjobs(cli_env, "webhooks", "deliveries", sub["id"], "--json").stdout)
            if log["deliveries"] and log["deliveries"][0]["status"] == "succeeded":
                break
        assert log["deliveries"][0]["id"] == f"{job_id}.succeeded"


def test_an_input_file_that_cannot_be_read_is_a_usage_error(cli_env, tmp_path):
    """`--input @file` (README): a missing or unreadable file is exit 2 with a message, like
    `--input 'not json'`, not a Python traceback."""
    for bad in (tmp_path / "missing.json", tmp_path):  # no such file; a directory
        done = asyncjobs(cli_env, "run", "diagnostic", "--input", f"@{bad}")
        assert done.returncode == 2, (bad, done.returncode, done.stderr)
        assert "Traceback" not in done.stderr and str(bad) in done.stderr


def test_an_input_that_is_not_an_object_starts_no_job(cli_env):
    """The API answers 422 to a body that is not a JSON object (`[]`, `null`); the CLI must not
    replace it with `{}` and start a job with default inputs, exiting 0."""
    for text in ("[]", "null"):
        done = asyncjobs(cli_env, "run", "diagnostic", "--input", text, "--json")
        assert done.returncode != 0, (text, done.stdout)
    listed = asyncjobs(cli_env, "jobs", "list", "--json")
    assert json.loads(listed.stdout)["jobs"] == []


def test_a_run_whose_answers_were_all_lost_names_its_idempotency_key(api, cli_env):
    """A run the client gave up on (every answer lost) may have started a job: the stack has it.
    The only safe retry is the same command with `--idempotency-key` (README), so the error must
    say which key was sent; without it, running the command again starts a second job."""
    with Proxy(api.base_url, [Step("drop") for _ in range(4)]) as proxy:
        done = asyncjobs({**cli_env, "ASYNCJOBS_URL": proxy.url}, "run", "diagnostic", "--input", "{}")
    assert done.returncode == 1, done.stderr
    sent = proxy.requests("POST", "/diagnostic/run")
    assert sent[0].upstream_status == 202  # the job exists
    key = sent[0].headers["idempotency-key"]
    assert key in done.stderr, done.stderr


def test_a_url_that_is_not_the_api_is_an_error_message_not_a_traceback():
    """ASYNCJOBS_URL set to a web page (200 HTML) or to an http:// address that redirects to
    https (301): exit 1 with what answered, not a Python traceback."""
    answers = [
        Answer(200, {"content-type": "text/html"}, b"<html><body>Welcome</body></html>"),
        Answer(301, {"location": "https://api.example.com/v2/tenants/t/diagnostic/run"}),
    ]
    with Receiver(answers) as site:
        env = {"ASYNCJOBS_URL": site.url.removesuffix("/hooks"), "ASYNCJOBS_API_KEY": "ajk_x_y"}
        for _ in answers:
            done = asyncjobs({**env, "ASYNCJOBS_TENANT": "t"}, "run", "diagnostic", "--input", "{}")
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr


def test_status_of_a_multi_action_job_shows_each_actions_outcome(cli_env, client):
    """A failed multi-action job's error says "each action's outcome is in `actions`": the
    human-readable status must show them (which action failed, with what), not only --json."""
    job = client.run_many(
        [
            {"name": "diagnostic", "params": {"duration_seconds": 0}},
            {"name": "diagnostic", "params": {"duration_seconds": 0, "fail_with": "action_error"}},
        ]
    )
    assert job.wait(timeout=30).status == "failed"

    shown = asyncjobs(cli_env, "status", job.job_id)

    assert "actions_failed" in shown.stdout
    assert "diagnostic_failure" in shown.stdout, shown.stdout


def test_status_of_a_failed_job_exits_3(cli_env, client):
    """README's exit codes: "3 the job failed or was cancelled". `asyncjobs status JOB` of a job
    that has failed exits 0, as for one that succeeded: `asyncjobs status $JOB && deploy` goes on."""
    job = client.run("diagnostic", {"duration_seconds": 0, "fail_with": "action_error"})
    assert job.wait(timeout=30).status == "failed"

    shown = asyncjobs(cli_env, "status", job.job_id)

    assert "failed" in shown.stdout
    assert shown.returncode == 3, shown.returncode
