"""One Lambda execution environment: a process that imports a handler once (INIT) and then serves
invocations one at a time, like the Lambda runtime.

Run as a script by `devstack.functions`, never imported by function code. It uses the standard
library only, so its own start-up adds nothing to the function's measured INIT. Requests and
replies travel as length-prefixed JSON on two inherited file descriptors; the function's stdout
and stderr stay free for its logs, as in Lambda.

Each reply names (`loaded`: file → module) the modules of the function's code and layers imported
since the previous one, so the pool knows which of them the function uses, lazily imported ones
included; a hot reload checks that those of them that changed still import (an `import` request).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import struct
import sys
import time
import traceback
import uuid
from typing import Any, BinaryIO

ACCOUNT = "123456789012"


class LambdaContext:
    def __init__(self, cfg: dict[str, Any], request_id: str) -> None:
        self.function_name = cfg["name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = cfg["memory"]
        self.aws_request_id = request_id
        self.invoked_function_arn = f"arn:aws:lambda:{cfg['region']}:{ACCOUNT}:function:{cfg['name']}"
        self.log_group_name = f"/aws/lambda/{cfg['name']}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + cfg["timeout"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _read(stream: BinaryIO) -> Any:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    return json.loads(stream.read(size))


def _write(stream: BinaryIO, message: Any) -> None:
    data = json.dumps(message).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "ok": False,
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


class _Loaded:
    """The modules of the function's code and layers imported since the last call (file → name)."""

    def __init__(self, paths: list[str]) -> None:
        self._roots = tuple(os.path.join(p, "") for p in paths)
        self._seen: set[str] = set()
        self._count = -1

    def __call__(self) -> dict[str, str]:
        if len(sys.modules) == self._count:  # the usual case: nothing new was imported
            return {}
        self._count = len(sys.modules)
        found = {}
        for name, module in list(sys.modules.items()):
            if name in self._seen:
                continue
            self._seen.add(name)
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file.startswith(self._roots):
                found[file] = name
        return found


def _import(modules: list[str]) -> dict[str, Any]:
    """Imports `modules` (a hot reload's check of changed modules the function uses)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            return {**_error(exc), "module": name}
    return {"ok": True, "result": None}


def _install_faults(spec: str) -> None:
    """Fault injection for tests (`--faults`), a JSON object of failure rates by AWS call:

    - `"dynamodb:UpdateItem": 0.05` makes that share of those calls fail the way AWS fails them
      (after the SDK's own retries), before they reach AWS;
    - `"lost:dynamodb:UpdateItem": 0.02` lets the call take effect, then fails it the way the SDK's
      retry of a call whose response was lost fails: a conditional write's retry fails its own
      condition (ConditionalCheckFailedException), any other call gets a server error;
    - `"crash-after:sqs:SendMessage": 0.02` ends the process abruptly right after the call took
      effect (what a crash between two steps of a function looks like from outside).
    """
    import random

    import botocore.session
    from botocore.exceptions import ClientError

    rates = json.loads(spec)
    rng = random.Random(os.getpid())
    create_client = botocore.session.Session.create_client

    def key(model: Any) -> str:
        return f"{model.service_model.service_name}:{model.name}"

    def conditional(params: Any, context: Any, **_: Any) -> None:
        context["devstack_conditional"] = "ConditionExpression" in params

    def before(model: Any, **_: Any) -> None:
        if rng.random() < rates.get(key(model), 0.0):
            code = rng.choice(["ThrottlingException", "ServiceUnavailable", "InternalServerError"])
            raise ClientError({"Error": {"Code": code, "Message": "injected fault"}}, model.name)

    def after(model: Any, http_response: Any, context: Any, **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        if rng.random() < rates.get(f"crash-after:{key(model)}", 0.0):
            sys.stdout.flush()
            os._exit(70)
        if rng.random() < rates.get(f"lost:{key(model)}", 0.0):
            conditional = context.get("devstack_conditional")
            code = "ConditionalCheckFailedException" if conditional else "InternalError"
            raise ClientError({"Error": {"Code": code, "Message": "injected: response lost"}}, model.name)

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", conditional)
        client.meta.events.register("before-call", before)
        client.meta.events.register("after-call", after)
        return client

    botocore.session.Session.create_client = patched  # type: ignore[method-assign]


def main() -> None:
    # Ctrl-C in `make local` reaches every process of the group: the stack stops its workers itself
    # (closing their pipes, killing what does not exit), so a worker ignores it instead of printing
    # a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cfg = json.loads(sys.argv[1])
    sys.path[:1] = cfg["paths"]  # the function's code, then its layers (replaces this script's dir)
    if cfg.get("faults"):
        _install_faults(cfg["faults"])
    requests = os.fdopen(cfg["fd_in"], "rb")
    replies = os.fdopen(cfg["fd_out"], "wb")
    module_name, func_name = cfg["handler"].rsplit(".", 1)
    started = time.perf_counter()
    module: Any = None
    try:
        module = importlib.import_module(module_name)
        handler = getattr(module, func_name)
    except Exception as exc:
        _write(replies, {**_error(exc, "Runtime.ImportModuleError"), "init_ms": 0})
        return
    init_ms = round((time.perf_counter() - started) * 1000, 1)
    loaded = _Loaded(cfg["paths"])
    _write(replies, {"ok": True, "init_ms": init_ms, "loaded": loaded()})
    while (request := _read(requests)) is not None:
        if request["type"] == "import":
            reply = _import(request["modules"])
        elif request["type"] == "invoke":
            context = LambdaContext(cfg, request.get("request_id") or str(uuid.uuid4()))
            try:
                result = handler(request["event"], context)
            except Exception as exc:
                reply = _error(exc)
            else:
                try:
                    reply = {"ok": True, "result": json.loads(json.dumps(result))}
                except (TypeError, ValueError) as exc:
                    reply = _error(exc, "Runtime.MarshalError")
        else:  # "call": a zero-argument attribute of the handler's module, e.g. app.get_openapi_schema
            try:
                target: Any = module
                for part in request["attribute"].split("."):
                    target = getattr(target, part)
                reply = {"ok": True, "result": json.loads(json.dumps(target(), default=str))}
            except Exception as exc:
                reply = _error(exc)
        sys.stdout.flush()
        sys.stderr.flush()
        if new_modules := loaded():
            reply["loaded"] = new_modules
        _write(replies, reply)


if __name__ == "__main__":
    main()
