"""The `asyncjobs` command: the client from a shell. Human-readable output by default, `--json`
for machines; progress on stderr, results on stdout.

Exit codes: 0 done, 1 API or connection error, 2 usage or configuration, 3 the job failed or was
cancelled, 4 timed out waiting (the job goes on)."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from asyncjobs_client import __version__
from asyncjobs_client.client import ALL_EVENTS, Client
from asyncjobs_client.errors import (
    ApiError,
    AsyncJobsError,
    ConfigurationError,
    TransportError,
    WaitTimeout,
)
from asyncjobs_client.models import Delivery, JobState, Subscription

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_JOB_FAILED, EXIT_TIMEOUT = 0, 1, 2, 3, 4


class Usage(Exception):
    """A command line that cannot be run as given (exit 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name, default in (
        ("url", None),
        ("api_key", None),
        ("tenant", None),
        ("json", False),
        ("http_timeout", 30.0),
    ):
        setattr(args, name, getattr(args, name, default))  # given before or after the command, or not
    try:
        with Client(args.url, args.api_key, args.tenant, timeout=args.http_timeout) as client:
            return int(args.handler(client, args))
    except (Usage, ConfigurationError) as exc:
        _err(f"asyncjobs: {exc}")
        return EXIT_USAGE
    except WaitTimeout as exc:
        _err(f"asyncjobs: timed out: {exc}")
        return EXIT_TIMEOUT
    except ApiError as exc:
        extra = "".join(
            f"; {name} {value:g} s" if isinstance(value, float) else f"; {name} {value}"
            for name, value in (("request id", exc.request_id), ("retry after", exc.retry_after))
            if value is not None
        )
        _err(f"asyncjobs: API error {exc.status} {exc.code}: {exc.message}{extra}")
        for detail in exc.details:
            _err(f"  {detail.get('field', '')}: {detail.get('message', '')}")
        if exc.status >= 500 or exc.status == 429:
            _retry_hint(exc)
        return EXIT_API
    except TransportError as exc:
        _err(f"asyncjobs: {exc}")
        _retry_hint(exc)
        return EXIT_API
    except BrokenPipeError:  # `asyncjobs jobs list | head`: the reader has gone
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        key = getattr(args, "idempotency_key", None)
        again = f"; to get the job a run may have started: retry with --idempotency-key {key}" if key else ""
        _err(f"asyncjobs: interrupted (a job already started goes on){again}")
        return 130


def _retry_hint(exc: AsyncJobsError) -> None:
    """After a run's failure whose job may exist (a lost answer, a 5xx), the key to retry with."""
    if exc.idempotency_key:
        _err(
            "asyncjobs: the job may have started: retry with "
            f"--idempotency-key {exc.idempotency_key} to get it rather than start a second"
        )


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: the options work before and after the command; defaults are set on the top parser.
    opt = argparse.SUPPRESS
    common.add_argument("--url", default=opt, help="the API's base URL (env ASYNCJOBS_URL)")
    common.add_argument("--api-key", default=opt, help="an API key, ajk_… (env ASYNCJOBS_API_KEY)")
    common.add_argument("--tenant", default=opt, help="the tenant id (env ASYNCJOBS_TENANT)")
    common.add_argument("--json", action="store_true", default=opt, help="machine-readable output")
    common.add_argument("--http-timeout", type=float, default=opt, help="seconds per request (30)")

    top = argparse.ArgumentParser(
        prog="asyncjobs",
        description="Run and follow asyncjobs jobs, manage webhooks.",
        parents=[common],
        epilog="Exit codes: 0 done, 1 API or connection error, 2 usage, 3 job failed or cancelled, "
        "4 timeout.",
    )
    top.add_argument("--version", action="version", version=f"asyncjobs-client {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, handler: Callable[..., int], help: str) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    run = command(commands, "run", _run, "start an action (and wait for it with --wait)")
    run.add_argument("action", help="the action's name, e.g. diagnostic")
    run.add_argument("--input", default="{}", help="the inputs: JSON, @file or - for stdin")
    run.add_argument("--path-param", action="append", default=[], metavar="NAME=VALUE", help="repeatable")
    run.add_argument(
        "--path", help="the resource path below the tenant instead, e.g. designs/d-1/proposal_pdf"
    )
    run.add_argument("--idempotency-key", help="default: a fresh one (the same on every retry)")
    run.add_argument("--wait", action="store_true", help="wait for the job to end, showing progress")
    run.add_argument("--timeout", type=float, default=None, help="with --wait: give up after N s (exit 4)")

    status = command(commands, "status", _status, "a job's status")
    status.add_argument("job_id")
    status.add_argument("--wait", action="store_true", help="wait for the job to end, showing progress")
    status.add_argument("--timeout", type=float, default=None, help="with --wait: give up after N s (exit 4)")

    jobs = commands.add_parser("jobs", help="list or cancel jobs").add_subparsers(
        dest="jobs_command", required=True, metavar="SUBCOMMAND"
    )
    listing = command(jobs, "list", _jobs_list, "the tenant's jobs, newest first")
    listing.add_argument("--action")
    listing.add_argument("--status", choices=["queued", "in_progress", "succeeded", "failed", "cancelled"])
    listing.add_argument("--limit", type=int, default=25, help="at most this many (25)")
    cancel = command(jobs, "cancel", _jobs_cancel, "cancel a job")
    cancel.add_argument("job_id")

    hooks = commands.add_parser("webhooks", help="webhook subscriptions").add_subparsers(
        dest="webhooks_command", required=True, metavar="SUBCOMMAND"
    )
    command(hooks, "list", _webhooks_list, "the tenant's subscriptions")
    create = command(hooks, "create", _webhooks_create, "subscribe a URL (prints its secret, once)")
    create.add_argument("webhook_url", metavar="URL", help="where deliveries are POSTed")
    create.add_argument("--event", action="append", choices=ALL_EVENTS, help="repeatable (default: all)")
    create.add_argument("--action", action="append", help="only this action's jobs (repeatable)")
    create.add_argument("--description")
    deliveries = command(hooks, "deliveries", _webhooks_deliveries, "a subscription's delivery log")
    deliveries.add_argument("sub_id")
    deliveries.add_argument("--status", choices=["pending", "succeeded", "failed", "exhausted", "skipped"])
    deliveries.add_argument("--limit", type=int, default=25, help="at most this many (25)")
    return top


# Commands


def _run(client: Client, args: argparse.Namespace) -> int:
    path_params = dict(_pair(p) for p in args.path_param)
    _wait_options(args)
    inputs = _inputs(args.input)
    if not isinstance(inputs, dict):
        raise Usage(f"--input must be a JSON object (the action's inputs), not {type(inputs).__name__}")
    args.idempotency_key = args.idempotency_key or str(uuid.uuid4())  # named if the run is lost
    job = client.run(
        args.action if args.path is None else None,
        inputs,
        path_params=path_params or None,
        path=args.path,
        idempotency_key=args.idempotency_key,
    )
    if not args.wait:
        assert job.state is not None
        _show_job(job.state, args.json)
        return EXIT_OK
    return _wait_and_show(job, args)


def _status(client: Client, args: argparse.Namespace) -> int:
    _wait_options(args)
    job = client.job(args.job_id)
    if args.wait:
        return _wait_and_show(job, args)
    return _show_outcome(job.refresh(), args)


def _wait_options(args: argparse.Namespace) -> None:
    if args.timeout is not None and not args.wait:
        raise Usage("--timeout is the time --wait may take: give --wait too")


def _wait_and_show(job: Any, args: argparse.Namespace) -> int:
    bar = ProgressBar(sys.stderr)
    try:
        state = job.wait(timeout=args.timeout, on_progress=bar.update)
    finally:
        bar.close()
    return _show_outcome(state, args)


def _show_outcome(state: JobState, args: argparse.Namespace) -> int:
    """Shows the job; exit 3 if it failed or was cancelled (0 if it succeeded or goes on)."""
    _show_job(state, args.json)
    if state.status in ("failed", "cancelled"):
        reason = f": {state.error.code}: {state.error.message}" if state.error else ""
        _err(f"asyncjobs: job {state.job_id} {state.status}{reason}")
        return EXIT_JOB_FAILED
    return EXIT_OK


def _jobs_list(client: Client, args: argparse.Namespace) -> int:
    page = min(max(args.limit, 1), 100)
    found = list(itertools.islice(client.jobs.list(args.action, args.status, page), max(args.limit, 0)))
    if args.json:
        _print_json({"jobs": [j.raw for j in found]})
    else:
        _table(
            ["JOB ID", "ACTION", "STATUS", "PROGRESS", "CREATED"],
            [[j.job_id, j.action or "", j.status, f"{j.progress}%", _time(j.created_at)] for j in found],
        )
    return EXIT_OK


def _jobs_cancel(client: Client, args: argparse.Namespace) -> int:
    _show_job(client.jobs.cancel(args.job_id), args.json)
    return EXIT_OK


def _webhooks_list(client: Client, args: argparse.Namespace) -> int:
    subs = client.webhooks.list()
    if args.json:
        _print_json({"webhooks": [s.raw for s in subs]})
    else:
        _table(["ID", "URL", "EVENTS", "ENABLED"], [_sub_row(s) for s in subs])
    return EXIT_OK


def _webhooks_create(client: Client, args: argparse.Namespace) -> int:
    sub = client.webhooks.create(
        args.webhook_url, args.event or ALL_EVENTS, actions=args.action, description=args.description
    )
    if args.json:
        _print_json(sub.raw)
    else:
        _table(["ID", "URL", "EVENTS", "ENABLED"], [_sub_row(sub)])
        print(f"secret: {sub.secret}   (shown this once: keep it to verify deliveries)")
    return EXIT_OK


def _webhooks_deliveries(client: Client, args: argparse.Namespace) -> int:
    page = min(max(args.limit, 1), 100)
    log = client.webhooks.deliveries(args.sub_id, args.status, page)
    found: list[Delivery] = list(itertools.islice(log, max(args.limit, 0)))
    if args.json:
        _print_json({"deliveries": [d.raw for d in found]})
    else:
        rows = [
            [
                d.id,
                d.event_type,
                d.status,
                str(d.attempts),
                str(d.last_status_code or ""),
                _time(d.created_at),
            ]
            for d in found
        ]
        _table(["DELIVERY ID", "EVENT", "STATUS", "ATTEMPTS", "LAST CODE", "CREATED"], rows)
    return EXIT_OK


# Progress and output


class ProgressBar:
    """`[#####-----]  50% in_progress` on a stream: redrawn in place (`\\r`) on a terminal, one
    line per change otherwise (logs, pipes)."""

    WIDTH = 20

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.drawn = False

    def update(self, state: JobState) -> None:
        filled = self.WIDTH * max(0, min(state.progress, 100)) // 100
        line = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {state.progress:3d}% {state.status}"
        self.stream.write(f"\r{line}\x1b[K" if self.tty else f"{line}\n")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _show_job(state: JobState, as_json: bool) -> None:
    if as_json:
        _print_json(state.raw)
        return
    rows = [
        ("job_id", state.job_id),
        ("action", state.action),
        ("status", state.status + (" (cancel requested)" if state.cancel_requested else "")),
        ("progress", f"{state.progress}%"),
        ("created_at", _time(state.created_at)),
        ("finished_at", _time(state.finished_at)),
        ("status_url", state.status_url),
    ]
    if state.error:
        rows.append(("error", f"{state.error.code}: {state.error.message}"))
    for f in state.files:
        rows.append(("file", f"{f.name}  {f.download_url}"))
    for name, value in rows:
        if value:
            print(f"{name:<12} {value}")
    if state.actions:
        print("actions")
        _table(
            ["  #", "ACTION", "STATUS", "PROGRESS", "ERROR"],
            [
                [
                    f"  {a.raw.get('index', i)}",
                    a.action or "",
                    a.status,
                    f"{a.progress}%",
                    f"{a.error.code}: {a.error.message}" if a.error else "",
                ]
                for i, a in enumerate(state.actions)
            ],
        )
    if state.result is not None:
        print("result")
        print(json.dumps(state.result, indent=2))


def _sub_row(sub: Subscription) -> list[str]:
    return [sub.id, sub.url, ",".join(sub.events), "yes" if sub.enabled else f"no ({sub.disabled_reason})"]


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


def _time(value: Any) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else ""


def _print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2))


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise Usage(f"--path-param takes NAME=VALUE, not {text!r}")
    return name, value


def _inputs(text: str) -> Any:
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise Usage(f"--input {text}: cannot read it: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Usage(f"--input is not JSON: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
