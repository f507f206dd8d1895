"""One cold start, measured inside a fresh interpreter (standard library only before the clock).

argv[1] is a JSON spec: {"mode": "floor" | "handler", "paths": [...], "handler": "app.handler",
"services": [...], "event": {...}, "context": {...}}. Prints {"ms": total, "import_ms": ...}.
"""

import importlib
import json
import sys
import time

started = time.perf_counter()
spec = json.loads(sys.argv[1])
sys.path[:0] = spec.get("paths", [])


class Context:
    def __init__(self, c):
        self.function_name = c["name"]
        self.memory_limit_in_mb = c["memory"]
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{c['name']}"
        self.aws_request_id = "bench"
        self.function_version = "$LATEST"
        self.log_group_name = self.log_stream_name = "bench"
        self._deadline = time.monotonic() + c["timeout"]

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)


if spec["mode"] == "floor":
    import boto3

    clients = [boto3.client(s) for s in spec["services"]]
    imported = time.perf_counter()
    result = None
else:
    module_name, func = spec["handler"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), func)
    imported = time.perf_counter()
    result = handler(spec["event"], Context(spec["context"]))
done = time.perf_counter()
answer = result.get("statusCode", result) if isinstance(result, dict) and "statusCode" in result else None
if spec["mode"] == "handler" and answer is None:
    answer = result
print(
    json.dumps(
        {
            "ms": (done - started) * 1000,
            "import_ms": (imported - started) * 1000,
            "answer": answer if spec["mode"] == "handler" else None,
        }
    )
)
