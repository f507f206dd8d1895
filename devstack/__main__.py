"""`python -m devstack`: run the whole system from template.yaml on this machine, without Docker."""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devstack.functions import FunctionError
from devstack.logs import LogSink
from devstack.server import LocalStack, Options, PortInUse


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    p.add_argument("--template", default="template.yaml", type=Path)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", default=8000, type=int, help="HTTP API port (0: any free port)")
    p.add_argument("--moto-port", default=0, type=int, help="moto server port (0: any free port)")
    p.add_argument("--stack-name", default="asyncjobs-local")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="template parameter")
    p.add_argument("--concurrency", default=4, type=int, help="environments per function (default 4)")
    p.add_argument(
        "--retry-after",
        type=int,
        default=None,
        help="retry failed messages and events after this many seconds instead of the visibility "
        "timeout / Lambda's async retry delays (a time scale for tests)",
    )
    p.add_argument("--raw-logs", action="store_true", help="print the functions' JSON logs as they are")
    p.add_argument(
        "--faults",
        help='fault injection for tests: JSON {"service:Operation": failure rate}, applied to every '
        'AWS call the functions make; "lost:service:Operation" lets the call take effect and then '
        'fails it as a retry after a lost response would; "crash-after:service:Operation" ends the '
        "function's process right after the call",
    )
    p.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="do not restart a function's environments when its code or layers change on disk",
    )
    p.add_argument(
        "--state-file",
        type=Path,
        default=Path(".devstack/state.json"),
        help="where to write URLs, outputs and credentials as JSON once started (default: %(default)s)",
    )
    p.add_argument(
        "--example",
        help='a request to print as a ready-to-run curl command: "METHOD PATH [JSON BODY]" '
        "(default: `example` in [tool.devstack] of the pyproject.toml beside the template)",
    )
    return p.parse_args(argv)


def _curl(base_url: str, example: str, headers: dict[str, str]) -> str:
    method, path, *rest = example.split(" ", 2)
    cmd = f"curl -si -X {method} {shlex.quote(base_url + path)}"
    for name, value in headers.items():
        cmd += f" -H {shlex.quote(f'{name}: {value}')}"
    if rest:
        cmd += f" -H 'content-type: application/json' -d {shlex.quote(rest[0])}"
    return cmd


def _command(template: str, values: dict[str, Any]) -> str | None:
    """`cli` of [tool.devstack] with its `{name}` placeholders filled in (shell-quoted): `base_url`
    and the bootstrap's string values (e.g. `tenant_id`, `api_key`). None if one has no value."""
    known = {k: shlex.quote(v) for k, v in values.items() if isinstance(v, str)}
    filled = re.sub(r"\{(\w+)\}", lambda m: known.get(m[1], m[0]), template)
    return None if re.search(r"\{\w+\}", filled) else filled


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(key, value)
    config = _project_config(args.template)
    params = {**config.get("parameters", {}), **dict(p.split("=", 1) for p in args.param)}
    options = Options(
        template=args.template,
        host=args.host,
        port=args.port,
        moto_port=args.moto_port,
        stack_name=args.stack_name,
        parameters=params,
        concurrency=args.concurrency,
        retry_after=args.retry_after,
        raw_logs=args.raw_logs,
        faults=args.faults,
        reload=args.reload,
    )
    log = LogSink(raw=args.raw_logs)
    stack = LocalStack(options, log)
    # Set by the signal handlers, which take no lock: Python runs a handler in the main thread
    # between two bytecodes, possibly while that thread holds a lock (an Event's, say).
    stop_signals: list[int] = []
    os.environ.setdefault("AWS_DEFAULT_REGION", options.region)
    signal.signal(signal.SIGTERM, lambda signum, _: stop_signals.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _: stop_signals.append(signum))
    # `kill -USR1 <pid>` prints every thread's stack: what a stack that does not stop is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        stack.start()
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FunctionError as exc:
        print(f"error: a function could not start: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    except ValueError as exc:  # the template asks for something the local stack cannot build
        print(f"error: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    state = stack.state()
    _write_state(args.state_file, state)
    try:
        state["bootstrap"] = _bootstrap(stack, config.get("bootstrap"), args.state_file)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    state["ready"] = True
    _write_state(args.state_file, state)
    _banner(stack, state, args.example or config.get("example"), config.get("cli"))
    # Wait in short sleeps, not on a lock without a timeout: that wait is cut short by a signal only
    # if the kernel delivers it to the main thread, and with other threads running (pollers,
    # workers, native libraries' pools) it may not, so Ctrl-C would go unnoticed.
    while not stop_signals:
        time.sleep(0.25)
    log.info("stopping…")
    stack.stop()
    log.info("stopped")
    return 0


def _project_config(template: Path) -> dict[str, Any]:
    """`[tool.devstack]` of the pyproject.toml beside the template: `parameters` (template
    parameters for local runs), `example` (a request to print as curl), `cli` (a command to print
    after it, see `_command`) and `bootstrap` (a command run once the stack is up, e.g. to create
    credentials)."""
    pyproject = template.resolve().with_name("pyproject.toml")
    if not pyproject.exists():
        return {}
    import tomllib

    config: dict[str, Any] = tomllib.loads(pyproject.read_text()).get("tool", {}).get("devstack", {})
    return config


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)  # readers never see a half-written file


def _bootstrap(stack: LocalStack, command: str | None, state_file: Path) -> dict[str, Any]:
    """Runs the project's bootstrap command against the stack; it prints one JSON object, whose
    `lines` are shown at start and whose `headers` go into the example request."""
    if not command:
        return {}
    layers = {str(p) for f in stack.stack.functions.values() for p in f.layer_dirs}
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": stack.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": stack.options.region,
        "DEVSTACK_STATE": str(state_file.resolve()),
        "PYTHONPATH": os.pathsep.join([*sorted(layers), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable if part == "python" else part for part in shlex.split(command)]
    out = subprocess.run(
        argv, env=env, capture_output=True, text=True, cwd=stack.options.template.resolve().parent
    )
    if out.returncode != 0:
        raise RuntimeError(f"bootstrap command {command!r} failed: {out.stderr.strip()}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _banner(stack: LocalStack, state: dict[str, Any], example: str | None, cli: str | None = None) -> None:
    base = state["base_url"]
    http = sorted({r.function for r in stack.routes})
    queues = [
        f"{t.function} ← {t.queue_arn.rsplit(':', 1)[-1]} (batch {t.batch_size}"
        f"{'' if t.enabled else ', disabled: not polled'})"
        for t in stack.stack.queue_triggers
    ]
    rules = [f"{r.function} ← rule {r.rule}" for r in stack.stack.rule_triggers]
    lines = [
        "",
        f"Local stack up in {state['started_in_s']} s, from {stack.options.template}",
        f"  API        {base}",
        f"  API docs   {base}/docs   (OpenAPI: {base}/openapi.json)",
        f"  AWS (moto) {state['aws_endpoint_url']}   region {state['region']}, any access key "
        "(e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing)",
        f"  HTTP       {', '.join(http) or '-'}",
        f"  SQS        {'; '.join(queues) or '-'}",
        f"  Rules      {'; '.join(rules) or '-'}",
    ]
    boot = state.get("bootstrap") or {}
    if boot.get("lines"):
        lines += ["", "Credentials:", *(f"  {line}" for line in boot["lines"])]
    if example:
        lines += [
            "",
            "Try it:",
            f"  {_curl(str(base), example, boot.get('headers') or {})}",
            "then GET the Location it returns (after the API URL), with the same Authorization header.",
        ]
    command = _command(cli, {**boot, "base_url": str(base)}) if cli else None
    if command:
        lines += [*(["or with the CLI:"] if example else ["", "Try it:"]), f"  {command}"]
    if stack.warnings:
        lines += ["", "Not run locally (declared in the template, ignored here):"]
        lines += [f"  warning: {w}" for w in stack.warnings]
    if stack.options.reload:
        reload = "on: a function restarts when its code or layers change (--no-reload: off)"
    else:
        reload = "off (--no-reload)"
    lines += ["", f"Hot reload {reload}", "Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
