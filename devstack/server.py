"""The local stack: moto as a server, the template's resources in it, and its functions behind an
HTTP API, SQS pollers and EventBridge rules, all derived from template.yaml."""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import logging
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3

from devstack.authorizers import Authorizers
from devstack.functions import (
    CodeCheckError,
    FunctionError,
    FunctionPool,
    InitError,
    Invocation,
    function_environment,
)
from devstack.lambda_runtime import aws_event, deliver_batch, http_event, target_input
from devstack.logs import LogSink
from devstack.provision import QueueTrigger, RuleTrigger, Stack, provision
from devstack.reload import Watcher, forget_bytecode
from devstack.routes import Route, http_routes, match_route
from devstack.template import Translated, load
from devstack.unsupported import unsupported

MAX_BODY = 10 * 1024 * 1024  # HTTP API payload limit
HTTP_API_TIMEOUT_S = 30.0  # HTTP API integration timeout
ASYNC_RETRY_DELAYS = (60, 120)


class PortInUse(Exception):
    pass


@dataclass
class Options:
    template: Path
    host: str = "127.0.0.1"
    port: int = 8000
    moto_port: int = 0
    stack_name: str = "asyncjobs-local"
    region: str = "us-east-1"
    parameters: dict[str, str] = field(default_factory=dict)
    concurrency: int = 4
    retry_after: int | None = None
    """Seconds before a failed message or event is retried, instead of the visibility timeout or
    Lambda's async retry delays (a time scale for tests; None behaves like AWS)."""
    raw_logs: bool = False
    faults: str | None = None
    """JSON {"service:Operation": failure rate} injected into every function's AWS calls (tests)."""
    reload: bool = False
    """Hot reload: restart a function's environments when its code or layers change on disk."""


def on_failure_record(payload: Any, out: Invocation, spec: Any, attempts: int, region: str) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's OnFailure destination."""
    import datetime
    import uuid

    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "version": "1.0",
        "timestamp": now,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:{region}:123456789012:function:{spec.name}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": out.error_message, "errorType": out.error_type},
    }


def _moto_server(host: str, port: int) -> Any:
    """moto's threaded server, with its DynamoDB requests served one at a time.

    moto serves each request on its own thread, and its DynamoDB checks a write's condition and
    applies the write without a lock: two concurrent conditional writes to one item can both pass
    (a cancel and the executor's claim of the same queued job both "win"). DynamoDB makes every
    single-item write, and every transaction, atomic; the job state machines rely on it. DynamoDB
    requests are fast in moto, so serialising them costs little; the other services run as before.
    (This overrides `_server_entry` of moto 5.2's ThreadedMotoServer, the version
    requirements-dev.txt pins.)"""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    lock = threading.Lock()

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)

            def atomic_dynamodb(environ: dict[str, Any], start_response: Any) -> Any:
                if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
                    return app(environ, start_response)
                with lock:
                    return list(app(environ, start_response))  # the whole answer, inside the lock

            self._server = make_server(
                self._ip_address, self._port, atomic_dynamodb, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address=host, port=port, verbose=False)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class LocalStack:
    def __init__(self, options: Options, log: LogSink | None = None) -> None:
        self.options = options
        self.log = log or LogSink(raw=options.raw_logs)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.pools: dict[str, FunctionPool] = {}
        self.started_in_s = 0.0
        self.openapi: dict[str, Any] = {}
        self.warnings: list[str] = []
        """What the template declares that the local stack does not run (see devstack.unsupported)."""
        self._reloading = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        began = time.monotonic()
        opts = self.options
        self._http = self._bind_http()  # first, so a busy port fails before anything starts
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

        moto_port = opts.moto_port or free_port(opts.host)
        self._moto = _moto_server(opts.host, moto_port)
        self._moto.start()
        self.moto_url = f"http://{opts.host}:{moto_port}"
        self.session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=opts.region,
        )
        self.translated: Translated = load(opts.template, opts.parameters, opts.region)
        self.stack: Stack = provision(
            self.translated,
            session=self.session,
            stack_name=opts.stack_name,
            region=opts.region,
            endpoint_url=self.moto_url,
            parameters=opts.parameters,
        )
        self.routes: list[Route] = http_routes(self.translated)
        self.warnings = unsupported(self.translated)
        self.authorizers = Authorizers(self._invoke_authorizer, opts.region)
        for logical_id, spec in self.stack.functions.items():
            env = function_environment(spec, opts.region, self.moto_url)
            if opts.faults:
                env["DEVSTACK_FAULTS"] = opts.faults
            self.pools[logical_id] = FunctionPool(spec, env, self.log.function_output, opts.concurrency)
        self._warm_all()
        self.openapi = self._build_openapi()
        self.sqs = self.session.client("sqs", endpoint_url=self.moto_url)
        for trigger in self.stack.queue_triggers:
            if trigger.enabled:
                for n in range(max(1, opts.concurrency)):
                    self._spawn(self._poll_queue, trigger, name=f"sqs-{trigger.function}-{n}")
        for rule in self.stack.rule_triggers:
            for n in range(max(1, opts.concurrency)):  # Lambda runs asynchronous invocations in parallel
                self._spawn(self._poll_rule, rule, name=f"rule-{rule.rule}-{n}")
        self._spawn(self._http.serve_forever, name="http", poll_interval=0.2)
        self._serving = True
        if opts.reload:
            watched = [*self.watched_dirs(), self.translated.source]
            watcher = Watcher(watched, self.reload, self._stop)
            self._spawn(watcher.run, name="reload")
        self.started_in_s = time.monotonic() - began

    def stop(self) -> None:
        self._stop.set()
        if getattr(self, "_serving", False):
            self._http.shutdown()  # waits for serve_forever to return: only if it ever ran
        with contextlib.suppress(AttributeError, OSError):
            self._http.server_close()
        for pool in self.pools.values():
            pool.close()
        # One deadline for all (daemon) threads: a poller busy in a slow call must not hold up
        # Ctrl-C by 5 s per thread.
        deadline = time.monotonic() + 5
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(AttributeError):
            self._moto.stop()

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def state(self) -> dict[str, Any]:
        """What a client or test needs to reach the stack (also written by --state-file)."""
        return {
            "base_url": self.base_url,
            "aws_endpoint_url": self.moto_url,
            "region": self.options.region,
            "stack_name": self.stack.name,
            "outputs": self.stack.outputs,
            "functions": {k: f.name for k, f in self.stack.functions.items()},
            "started_in_s": round(self.started_in_s, 2),
        }

    def _spawn(self, target: Any, *args: Any, name: str, **kwargs: Any) -> None:
        t = threading.Thread(target=target, args=args, kwargs=kwargs, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _warm_all(self) -> None:
        errors: list[str] = []

        def warm(pool: FunctionPool) -> None:
            try:
                pool.warm()
            except FunctionError as exc:
                errors.append(str(exc))

        threads = [threading.Thread(target=warm, args=(p,)) for p in self.pools.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise FunctionError("; ".join(errors))

    def _bind_http(self) -> ThreadingHTTPServer:
        stack = self

        class Handler(_ApiHandler):
            local = stack

        class Server(ThreadingHTTPServer):
            request_queue_size = 512  # the default 5 resets connections under a burst of clients

        try:
            server = Server((self.options.host, self.options.port), Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {self.options.port} on {self.options.host} is in use; stop what uses it "
                    f"or pick another port (make local PORT=8001)"
                ) from exc
            raise
        server.daemon_threads = True
        return server

    # -- hot reload ------------------------------------------------------------------------
    def watched_dirs(self) -> list[Path]:
        """Every function's code directory and layer directories."""
        dirs = {d for f in self.stack.functions.values() for d in (f.code_dir, *f.layer_dirs)}
        return sorted(dirs)

    def reload(self, paths: set[Path]) -> list[str]:
        """Restarts the environments of every function whose code or layers include one of `paths`
        (a layer edit reaches every function that uses it). A function whose new code fails INIT
        keeps its current environments and the failure is logged, as does one whose changed files
        fail their check (FunctionPool.replace). Returns the functions reloaded."""
        root = self.options.template.resolve().parent
        if self.translated.source in paths:
            self.log.warning(
                f"{self.translated.source.name} changed: the local stack runs the template it started "
                "with; restart it (Ctrl-C, then make local) to apply the change"
            )
            paths = paths - {self.translated.source}
        affected = sorted(
            logical_id
            for logical_id, spec in self.stack.functions.items()
            if any(p.is_relative_to(d) for p in paths for d in (spec.code_dir, *spec.layer_dirs))
        )
        if not affected or self._stop.is_set():
            return []
        shown = sorted(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in paths)
        files = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
        forget_bytecode(paths)
        failures: dict[str, str] = {}

        def replace(logical_id: str) -> None:
            try:
                self.pools[logical_id].replace(paths)
            except (InitError, CodeCheckError) as exc:
                failures[logical_id] = exc.detail
            except FunctionError as exc:
                failures[logical_id] = str(exc)

        with self._reloading:
            # As many INITs at a time as there are cores: a layer edit restarts every function, and
            # eight INITs at once on two busy cores could each overrun Lambda's 10 s INIT limit.
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as executor:
                list(executor.map(replace, affected))
            if self._stop.is_set():
                return []
            done = [lid for lid in affected if lid not in failures]
            if done:
                self.log.info(f"reloaded {', '.join(done)} ({files} changed)")
            by_error: dict[str, list[str]] = {}
            for logical_id, detail in failures.items():
                by_error.setdefault(detail, []).append(logical_id)
            for detail, functions in by_error.items():
                who = ", ".join(sorted(functions))
                self.log.warning(
                    f"reload failed ({files} changed): {who}: {detail}; "
                    "the previous code keeps serving until the file is fixed"
                )
            if any(r.authorizer and r.authorizer.function in done for r in self.routes):
                self.authorizers.clear_cache()  # decisions of the old authorizer code
            if any(r.function in done for r in self.routes):
                try:
                    self.openapi = self._build_openapi()
                except Exception as exc:  # the docs stay as they were; requests are unaffected
                    self.log.warning(f"API docs not refreshed after the reload: {exc}")
        return done

    # -- OpenAPI ---------------------------------------------------------------------------
    def _build_openapi(self) -> dict[str, Any]:
        from devstack.openapi import openapi_of

        docs = []
        for logical_id in sorted({r.function for r in self.routes}):
            try:
                doc = openapi_of(self.pools[logical_id])
            except FunctionError as exc:  # the stack serves all the same, without those routes
                self.log.warning(f"OpenAPI: {exc}")
                continue
            if doc is not None:
                docs.append(doc)
        return merge_openapi(docs, self.translated)

    # -- SQS event sources -----------------------------------------------------------------
    def _poll_queue(self, trigger: QueueTrigger) -> None:
        pool = self.pools[trigger.function]
        sqs = self.session.client("sqs", endpoint_url=self.moto_url)

        def invoke(event: dict[str, Any]) -> Any:
            out = pool.invoke(event)
            n = len(event["Records"])
            if not out.ok:
                self.log.warning(
                    f"{trigger.function} ← {_queue_name(trigger.queue_arn)} {n} message(s): "
                    f"invocation failed ({out.error_type}: {out.error_message}); "
                    "the messages return after the visibility timeout"
                )
                raise FunctionError(out.error_message)
            failures = (
                len((out.result or {}).get("batchItemFailures", [])) if isinstance(out.result, dict) else 0
            )
            self.log.info(
                f"{trigger.function} ← {_queue_name(trigger.queue_arn)} {n} message(s), "
                f"{failures} failed  {out.duration_ms:.0f} ms"
            )
            return out.result

        while not self._stop.is_set():
            try:
                deliver_batch(
                    sqs,
                    trigger.queue_url,
                    trigger.queue_arn,
                    invoke,
                    batch_size=trigger.batch_size,
                    report_batch_item_failures=trigger.report_batch_item_failures,
                    region=self.options.region,
                    wait_seconds=1,
                    failed_visibility_timeout=self.options.retry_after,
                )
            except Exception as exc:  # moto stopping, or a transient local error
                if self._stop.is_set():
                    return
                self.log.warning(f"poller for {trigger.function}: {exc}")
                time.sleep(1)

    # -- EventBridge rules -----------------------------------------------------------------
    def _poll_rule(self, rule: RuleTrigger) -> None:
        pool = self.pools[rule.function]
        sqs = self.session.client("sqs", endpoint_url=self.moto_url)
        while not self._stop.is_set():
            try:
                resp = sqs.receive_message(
                    QueueUrl=rule.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
            except Exception:
                if self._stop.is_set():
                    return
                time.sleep(1)
                continue
            for msg in resp.get("Messages", []):
                self._deliver_event(rule, pool, sqs, msg)

    def _deliver_event(self, rule: RuleTrigger, pool: FunctionPool, sqs: Any, msg: dict[str, Any]) -> None:
        event = aws_event(json.loads(msg["Body"]), self.options.region)
        payload = target_input(event, rule)
        out = pool.invoke(payload)
        attempt = int(msg["Attributes"]["ApproximateReceiveCount"])
        label = f"{rule.function} ← rule {rule.rule} ({event.get('detail-type')})"
        spec = self.stack.functions[rule.function]
        if out.ok or attempt > spec.async_retries:
            if out.ok:
                self.log.info(f"{label}  {out.duration_ms:.0f} ms")
            elif spec.on_failure_queue_url:
                record = on_failure_record(payload, out, spec, attempt, self.options.region)
                sqs.send_message(QueueUrl=spec.on_failure_queue_url, MessageBody=json.dumps(record))
                self.log.warning(f"{label}: failed {attempt} times, sent to its OnFailure destination")
            else:
                self.log.warning(f"{label}: failed {attempt} times, event dropped ({out.error_message})")
            sqs.delete_message(QueueUrl=rule.queue_url, ReceiptHandle=msg["ReceiptHandle"])
            return
        delay = self.options.retry_after
        if delay is None:
            delay = ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS)) - 1]
        self.log.warning(f"{label}: failed ({out.error_message}); retry in {delay} s")
        sqs.change_message_visibility(
            QueueUrl=rule.queue_url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=delay
        )

    # -- HTTP API --------------------------------------------------------------------------
    def handle_http(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path, _, query = raw_path.partition("?")
        # The API docs come first: /openapi.json is built live from the code here (it follows a
        # hot reload), where a deployed stack routes GET /openapi.json to StatusFunction, which
        # serves the committed copy (`make openapi`); both are the same document apart from servers.
        if method == "GET" and path in _DOCS:
            return self._docs(path)
        found = match_route(self.routes, method, path)
        if found is None:
            return _gateway_error(404, "Not Found")
        route, params = found
        event = http_event(
            method,
            path,
            route_key=route.route_key,
            path_parameters=params,
            query=query,
            headers=headers,
            body=body,
            source_ip="127.0.0.1",
        )
        denied = self.authorizers.authorize(route, event)
        if denied is not None:
            self.log.info(f"HTTP {method} {path} → {denied.status}  refused by the authorizer")
            return _gateway_error(denied.status, denied.message)
        out = self.pools[route.function].invoke(event, timeout=HTTP_API_TIMEOUT_S)
        status, resp_headers, resp_body = http_response(out)
        suffix = "" if out.ok else f"  ({out.error_type}: {out.error_message})"
        self.log.info(
            f"HTTP {method} {redact(raw_path)} → {status}  {route.function} {out.duration_ms:.0f} ms{suffix}"
        )
        return status, resp_headers, resp_body

    def _invoke_authorizer(self, function: str, event: dict[str, Any]) -> tuple[bool, Any]:
        out = self.pools[function].invoke(event, timeout=HTTP_API_TIMEOUT_S)
        if not out.ok:
            self.log.warning(f"authorizer {function} failed: {out.error_type}: {out.error_message}")
        return out.ok, out.result

    def _docs(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/openapi.json":
            doc = {**self.openapi, "servers": [{"url": self.base_url}]}
            return 200, {"content-type": "application/json"}, json.dumps(doc, indent=2).encode()
        if path == "/docs":
            return 200, {"content-type": "text/html; charset=utf-8"}, SWAGGER_UI.encode()
        name, content_type = _DOCS[path]
        return 200, {"content-type": content_type, "cache-control": "max-age=3600"}, swagger_asset(name)


_DOCS = {
    "/openapi.json": ("", ""),
    "/docs": ("", ""),
    "/docs/swagger-ui.css": ("swagger-ui.min.css", "text/css"),
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "application/javascript"),
}


class _ApiHandler(BaseHTTPRequestHandler):
    local: LocalStack
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the headers and the body go out in two writes; with Nagle's algorithm on a
    # kept-alive connection the body then waits for the client's delayed ACK of the headers, which
    # added ~40 ms to every answer (API Gateway adds no such stall).
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            status, headers, body = _gateway_error(413, "Request Entity Too Large")
            self.close_connection = True
        else:
            data = self.rfile.read(length) if length else b""
            hdrs = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, headers, body = self.local.handle_http(self.command, self.path, hdrs, data)
            except Exception as exc:  # the local stack's own failure, never the function's
                self.local.log.warning(f"HTTP {self.command} {redact(self.path)}: local stack error {exc!r}")
                status, headers, body = _gateway_error(500, "Internal Server Error")
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = _handle

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: no route matches it, as in API Gateway
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # one line per request is logged above
        return


_PARAM = re.compile(r"(^|[&;])([^=&;#]*)=([^&;#]*)")


def redact(raw_path: str) -> str:
    """The path and query string as logged: `apikey` values (Haven's API keys, secrets like any
    other key) replaced by `***`. Names are compared decoded (`api%6Bey` is `apikey` to the
    function that reads it) and without case."""

    def hide(m: re.Match[str]) -> str:
        secret = unquote_plus(m.group(2)).strip().lower() == "apikey"
        return f"{m.group(1)}{m.group(2)}={'***' if secret else m.group(3)}"

    path, sep, query = raw_path.partition("?")
    return path + sep + _PARAM.sub(hide, query)


def _gateway_error(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's own error responses (no function was invoked, or it failed)."""
    return status, {"content-type": "application/json"}, json.dumps({"message": message}).encode()


def http_response(out: Invocation) -> tuple[int, dict[str, str], bytes]:
    """Maps a function's result to the HTTP response, per HTTP API payload format 2.0."""
    if not out.ok:
        if out.timed_out:
            return _gateway_error(503, "Service Unavailable")
        return _gateway_error(500, "Internal Server Error")
    result = out.result
    if not (isinstance(result, dict) and "statusCode" in result):
        # Format 2.0 infers a 200 JSON response from any other valid JSON result.
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, data


def merge_openapi(docs: list[dict[str, Any]], translated: Translated) -> dict[str, Any]:
    description = str(translated.sam.get("Description") or "").strip()
    title, version = translated.source.parent.name, "0.0.0"
    pyproject = translated.source.with_name("pyproject.toml")
    if pyproject.exists():
        import tomllib

        project = tomllib.loads(pyproject.read_text()).get("project", {})
        title, version = project.get("name", title), project.get("version", version)
    merged: dict[str, Any] = {
        "openapi": docs[0]["openapi"] if docs else "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": {},
        "components": {},
    }
    for doc in docs:
        for path, operations in doc.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(operations)
        for section, entries in doc.get("components", {}).items():
            merged["components"].setdefault(section, {}).update(entries)
        if "security" in doc:
            merged.setdefault("security", doc["security"])
        if doc.get("tags"):
            merged.setdefault("tags", []).extend(doc["tags"])
    merged["paths"] = dict(sorted(merged["paths"].items()))
    return merged


def _queue_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


SWAGGER_UI = """<!doctype html>
<html><head><meta charset="utf-8"><title>API docs</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>
"""


def swagger_asset(name: str) -> bytes:
    """Swagger UI's own files, from the copy Powertools ships (no CDN, works offline)."""
    import importlib.util

    spec = importlib.util.find_spec("aws_lambda_powertools.event_handler.openapi.swagger_ui")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    return (folder / name).read_bytes()
