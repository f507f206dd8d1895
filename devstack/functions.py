"""Runs a template's functions locally, each invocation in a Lambda-like execution environment.

Each environment is a worker process (`devstack/worker.py`) with exactly the environment variables
the template gives the function, its code and layers on the import path, and one invocation at a
time. A pool keeps warm environments and starts new ones up to a concurrency limit. An invocation
that outlives the function's `Timeout` is ended by killing its environment, as Lambda does, and
counts as a failed invocation.

`FunctionPool.replace` swaps a pool's environments for ones running the code as it is now (hot
reload): the new code must pass INIT first, idle environments are retired at once and busy ones
when their invocation ends, so no invocation is cut short. INIT imports only the handler's module
and what it imports; modules imported on first use (an action, say) are checked too: every changed
file must compile, and a changed module the function has imported before must still import.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from devstack.provision import FunctionSpec

WORKER = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_S = 10.0  # Lambda's INIT phase limit

# Variables from the developer's shell that would change how the function behaves.
_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "PYTHONDONTWRITEBYTECODE")


@dataclass
class Invocation:
    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float = 0.0
    init_ms: float | None = None
    timed_out: bool = False


class FunctionError(Exception):
    pass


class InitError(FunctionError):
    """An environment's INIT failed (the handler's module did not import, or took too long)."""

    def __init__(self, function: str, detail: str) -> None:
        super().__init__(f"{function}: INIT failed: {detail}")
        self.detail = detail


class CodeCheckError(FunctionError):
    """A hot reload's new code failed its check: a changed file does not compile, or a changed
    module the function imported before (lazily, say) no longer imports."""

    def __init__(self, function: str, detail: str) -> None:
        super().__init__(f"{function}: {detail}")
        self.detail = detail


def function_environment(spec: FunctionSpec, region: str, endpoint_url: str) -> dict[str, str]:
    """The variables Lambda sets, the template's own, and moto's endpoint for every AWS SDK call."""
    env = {k: os.environ[k] for k in _KEEP if k in os.environ}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(spec.environment)
    return env


class _Environment:
    def __init__(
        self, spec: FunctionSpec, env: dict[str, str], on_output: Callable[[str, str], None]
    ) -> None:
        self.spec = spec
        self.generation = 0
        """The pool's code generation this environment was started for (see FunctionPool.replace)."""
        parent_in, child_out = os.pipe()
        child_in, parent_out = os.pipe()
        cfg = {
            "handler": spec.handler,
            "paths": [str(spec.code_dir), *(str(p) for p in spec.layer_dirs)],
            "fd_in": child_in,
            "fd_out": child_out,
            "name": spec.name,
            "memory": spec.memory,
            "timeout": spec.timeout,
            "region": env["AWS_REGION"],
            "faults": env.get("DEVSTACK_FAULTS"),
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(cfg)],
            env=env,
            cwd=spec.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(child_in, child_out),
        )
        os.close(child_in)
        os.close(child_out)
        self._requests: BinaryIO = os.fdopen(parent_out, "wb")
        self._replies: BinaryIO = os.fdopen(parent_in, "rb")
        self._pump = threading.Thread(target=self._forward_output, args=(on_output,), daemon=True)
        self._pump.start()
        ready = self._reply(INIT_TIMEOUT_S)
        if ready is None or not ready.get("ok"):
            self.kill()
            detail = (ready or {}).get("errorMessage", "INIT did not finish in time")
            raise InitError(spec.logical_id, detail)
        self.init_ms: float | None = ready["init_ms"]
        self.loaded: dict[str, str] = ready.get("loaded") or {}
        """The modules of the function's code and layers its INIT imported (file → name)."""

    def _forward_output(self, on_output: Callable[[str, str], None]) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            on_output(self.spec.logical_id, raw.decode(errors="replace").rstrip("\n"))

    def _reply(self, timeout: float) -> dict[str, Any] | None:
        ready, _, _ = select.select([self._replies], [], [], timeout)
        if not ready:
            return None
        header = self._replies.read(4)
        if len(header) < 4:
            return None  # the process died
        (size,) = struct.unpack(">I", header)
        reply: dict[str, Any] = json.loads(self._replies.read(size))
        return reply

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        data = json.dumps(message).encode()
        try:
            self._requests.write(struct.pack(">I", len(data)) + data)
            self._requests.flush()
        except BrokenPipeError:
            return None
        return self._reply(timeout)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait()
        for stream in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                stream.close()


class FunctionPool:
    """Warm environments of one function, created on demand up to `concurrency`."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: dict[str, str],
        on_output: Callable[[str, str], None],
        concurrency: int = 4,
    ) -> None:
        self.spec = spec
        self._env = env
        self._on_output = on_output
        self._concurrency = concurrency
        self._idle: list[_Environment] = []
        self._count = 0
        self._all: set[_Environment] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._generation = 0
        self._used: dict[str, str] = {}
        """Every module of the function's code and layers its environments imported so far, at INIT
        or on first use, under any generation of the code (real path of its file → name)."""

    def _acquire(self) -> _Environment | None:
        """An idle environment, or None when the caller may create a new one."""
        with self._cond:
            while True:
                if self._closed:
                    raise FunctionError("the local stack is stopping")
                if self._idle:
                    return self._idle.pop()
                if self._count < self._concurrency:
                    self._count += 1
                    return None
                self._cond.wait()

    def _create(self) -> _Environment:
        with self._cond:
            generation = self._generation
        env = _Environment(self.spec, self._env, self._on_output)
        env.generation = generation  # if a reload finished meanwhile, retired after this use
        with self._cond:
            self._all.add(env)
        self._note_loaded(env.loaded)
        return env

    def _note_loaded(self, loaded: dict[str, str]) -> None:
        if loaded:
            with self._cond:
                self._used.update((os.path.realpath(file), name) for file, name in loaded.items())

    def _release(self, env: _Environment | None) -> None:
        with self._cond:
            current = env is not None and env.generation == self._generation
            if env is not None and env.alive and not self._closed and current:
                self._idle.append(env)
            else:
                self._count -= 1
                if env is not None:
                    env.kill()
                    self._all.discard(env)
            self._cond.notify()

    def warm(self) -> float | None:
        env = self._acquire()
        try:
            env = env or self._create()
        except FunctionError:
            self._release(None)
            raise
        self._release(env)
        return env.init_ms

    def invoke(self, event: dict[str, Any], timeout: float | None = None) -> Invocation:
        return self._send({"type": "invoke", "event": event, "request_id": str(uuid.uuid4())}, timeout)

    def call(self, attribute: str) -> Any:
        """Calls a zero-argument attribute of the handler module (e.g. the OpenAPI generator)."""
        out = self._send({"type": "call", "attribute": attribute}, None)
        if not out.ok:
            raise FunctionError(f"{self.spec.logical_id}.{attribute}: {out.error_message}")
        return out.result

    def _send(self, message: dict[str, Any], timeout: float | None) -> Invocation:
        env = self._acquire()
        init_ms = None
        try:
            if env is None:
                try:
                    env = self._create()
                except FunctionError as exc:
                    return Invocation(False, error_type="Runtime.InitError", error_message=str(exc))
                init_ms = env.init_ms
            limit = self.spec.timeout if timeout is None else min(timeout, self.spec.timeout)
            started = time.monotonic()
            reply = env.request(message, limit)
            duration = (time.monotonic() - started) * 1000
            if reply is None:
                timed_out = env.alive
                env.kill()  # like Lambda, a timed-out environment is discarded
                message_text = (
                    f"Task timed out after {limit:.2f} seconds"
                    if timed_out
                    else "Runtime exited unexpectedly"
                )
                return Invocation(
                    False,
                    error_type="Sandbox.Timedout" if timed_out else "Runtime.ExitError",
                    error_message=message_text,
                    duration_ms=duration,
                    init_ms=init_ms,
                    timed_out=timed_out,
                )
            self._note_loaded(reply.get("loaded") or {})
            if not reply["ok"]:
                return Invocation(
                    False,
                    error_type=reply["errorType"],
                    error_message=reply["errorMessage"],
                    duration_ms=duration,
                    init_ms=init_ms,
                )
            return Invocation(True, result=reply["result"], duration_ms=duration, init_ms=init_ms)
        finally:
            self._release(env)

    def replace(self, changed: Iterable[Path] = ()) -> None:
        """Hot reload: starts one environment with the code as it is on disk now and, once its INIT
        succeeded and the `changed` files passed their check, retires the others: idle ones at
        once, busy ones when their invocation ends (it finishes on the code it started with).
        Raises InitError or CodeCheckError, and changes nothing, when the new code fails.

        The check covers what INIT does not import: each changed `.py` file of the function's code
        and layers must compile, and each changed module the function has imported before (at
        INIT or on first use, e.g. an action) must import in the new environment. Other changed
        modules are not imported: one the function never used may fail to import here for a good
        reason (a variable only another function has), and importing it is no test of this one."""
        mine = sorted(
            path
            for path in changed
            if path.suffix == ".py"
            and any(path.is_relative_to(d) for d in (self.spec.code_dir, *self.spec.layer_dirs))
        )
        for path in mine:
            try:
                source = path.read_bytes()
            except OSError:
                continue  # deleted
            try:
                compile(source, str(path), "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
                raise CodeCheckError(self.spec.logical_id, str(exc)) from None
        env = _Environment(self.spec, self._env, self._on_output)
        self._note_loaded(env.loaded)
        with self._cond:
            used = dict(self._used)
        modules = sorted(
            {used[real] for path in mine if (real := os.path.realpath(path)) in used and path.exists()}
        )
        if modules:
            reply = env.request({"type": "import", "modules": modules}, INIT_TIMEOUT_S)
            if reply is None or not reply["ok"]:
                env.kill()
                if reply is None:
                    detail = f"importing {', '.join(modules)} did not finish in {INIT_TIMEOUT_S:.0f} s"
                else:
                    detail = (
                        f"{reply['module']} does not import: {reply['errorType']}: {reply['errorMessage']}"
                    )
                raise CodeCheckError(self.spec.logical_id, detail)
            self._note_loaded(reply.get("loaded") or {})
        with self._cond:
            if self._closed:
                stale = [env]
            else:
                self._generation += 1
                env.generation = self._generation
                stale, self._idle = self._idle, [env]
                self._all.add(env)
                self._all.difference_update(stale)
                # The new environment may briefly exceed `concurrency` while old ones finish.
                self._count += 1 - len(stale)
                self._cond.notify()
        for old in stale:
            old.kill()

    def close(self) -> None:
        """Ends every environment, busy ones included (their invocations fail, as in a crash)."""
        with self._cond:
            self._closed = True
            envs, self._idle = list(self._all), []
            self._cond.notify_all()
        for env in envs:
            env.kill()
