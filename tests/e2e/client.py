"""An HTTP client for the API and a local stack run as a separate process, as a developer runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support import ROOT


class LocalStackProcess:
    def __init__(
        self,
        template: Path,
        workdir: Path,
        retry_after: int | None = None,
        params: dict[str, str] | None = None,
        reload: bool = False,
    ) -> None:
        self.template = template
        self.reload = reload  # off unless a test is about hot reload: no restarts mid-test
        self.params = params or {}
        self.workdir = workdir
        self.retry_after = retry_after
        self.state: dict[str, Any] = {}
        self.log_path = workdir / "stack.log"
        self.returncode: int | None = None
        self.extra_args: list[str] = []

    def __enter__(self) -> LocalStackProcess:
        state_file = self.workdir / "state.json"
        cmd = [
            sys.executable,
            "-m",
            "devstack",
            "--template",
            str(self.template),
            "--port",
            "0",
            "--state-file",
            str(state_file),
        ]
        if self.retry_after is not None:
            cmd += ["--retry-after", str(self.retry_after)]
        if not self.reload:
            cmd.append("--no-reload")
        for name, value in self.params.items():
            cmd += ["--param", f"{name}={value}"]
        cmd += self.extra_args
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while not (state_file.exists() and json.loads(state_file.read_text()).get("ready")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"local stack did not start:\n{self.log()}")
            time.sleep(0.1)
        time.sleep(0.05)
        self.state = json.loads(state_file.read_text())
        return self

    @property
    def base_url(self) -> str:
        return str(self.state["base_url"])

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def create_key(self, tenant: str) -> str:
        """A new API key for `tenant` (created with its tenant if need be), as the admin CLI does."""
        from asyncjobs.tenancy.tenants import Tenants

        tenants = Tenants(self.boto3_client("dynamodb"), self.state["outputs"]["TenantsTableName"])
        if not tenants.tenant_exists(tenant):
            tenants.create_tenant(tenant)
        return tenants.create_key(tenant, "e2e")[1]

    def boto3_client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.state["aws_endpoint_url"],
            region_name=self.state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> int:
        if self.returncode is None:
            self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                self.returncode = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # every thread's stack into the stack's log first (devstack registers SIGUSR1 with
                # faulthandler), so a stack that did not stop says why
                self.proc.send_signal(signal.SIGUSR1)
                time.sleep(1)
                self.proc.kill()
                self.returncode = self.proc.wait()
            self._log.close()
        return self.returncode

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any
    text: str


class Api:
    """A caller of one tenant: every request carries that tenant's API key."""

    def __init__(self, base_url: str, stack: LocalStackProcess | None, tenant: str, key: str) -> None:
        self.base_url = base_url
        self.stack = stack
        self.tenant = tenant
        self.key = key
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kw: Any) -> Reply:
        resp = self.http.request(method, self.base_url + path, timeout=30, allow_redirects=False, **kw)
        try:
            body = resp.json()
        except ValueError:
            body = None
        return Reply(resp.status_code, resp.headers, body, resp.text)

    def run(self, path: str, body: Any, **kw: Any) -> Reply:
        """POST `/v2/tenants/<tenant><path>/run`."""
        return self.request("POST", f"/v2/tenants/{self.tenant}{path}/run", json=body, **kw)

    def wait(self, location: str, timeout: float = 30.0) -> dict[str, Any]:
        """Polls a status URL until the job ends, honouring Retry-After up to 1 s."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.request("GET", location)
            assert reply.status == 200, reply.text
            if reply.body["status"] in ("succeeded", "failed", "cancelled"):
                return dict(reply.body)
            if time.monotonic() > deadline:
                raise AssertionError(f"job still {reply.body['status']} after {timeout} s")
            time.sleep(min(float(reply.headers.get("Retry-After", 1)), 0.2))


def copy_template(dest: Path, replacements: list[tuple[str, str]], extra_resources: str = "") -> Path:
    """A copy of template.yaml in `dest`, its code paths pointing at this repository, with each
    (old, new) replaced exactly once and `extra_resources` added under Resources."""
    import re

    text = (ROOT / "template.yaml").read_text()
    text = re.sub(r"(CodeUri|ContentUri): (?!/)(\S+)", lambda m: f"{m[1]}: {ROOT / m[2]}", text)
    for old, new in replacements:
        assert text.count(old) == 1, f"template.yaml no longer contains exactly one {old!r}"
        text = text.replace(old, new)
    if extra_resources:
        text = text.replace("\nOutputs:", extra_resources + "\nOutputs:", 1)
    path = dest / "template.yaml"
    path.write_text(text)
    return path
