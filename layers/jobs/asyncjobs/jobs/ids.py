"""Time-ordered job ids (UUIDv7, RFC 9562), so a tenant's jobs sort newest first by key."""

from __future__ import annotations

import os
import re
import time
import uuid

_JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# What the routes accept as a `job_id`: a short token. Junk (too long, spaces, control or non-ASCII
# characters) is a 422 before any lookup; a token that is not one of our ids is a 404, like an
# unknown id (`jobs.find` checks the exact form).
JOB_ID_PARAM_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
# What an action's path parameter (its resource id, e.g. `design_id`) may be, on every API.
PATH_PARAM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


def new_job_id(now_ms: int | None = None) -> str:
    # The standard library gains uuid.uuid7 only in Python 3.14; the layout is 12 lines, so it is
    # written here rather than adding a dependency to every function's cold start.
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 68) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # 62 random bits
    return str(uuid.UUID(int=value))


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID.fullmatch(value))  # `$` alone would allow a final newline


# The actions of a multi-action job are jobs of their own, keyed `<job id>.<index>`: they sort right
# after their job, so one Query (`begins_with(job_id, <job id>)`) reads a job with all its actions,
# and no public route accepts them (`is_job_id` is false for them; the route pattern has no dot).
def action_job_id(job_id: str, index: int) -> str:
    return f"{job_id}.{index:02d}"


def action_index(action_job_id: str) -> int:
    return int(action_job_id.rsplit(".", 1)[1])


# Uploaded files: an opaque token, random rather than time-ordered (files are never listed, and a
# guessable id would only ever meet a 404 anyway: every key is under its tenant's prefix).
FILE_ID_PATTERN = r"^file_[0-9a-f]{32}$"
_FILE_ID = re.compile(FILE_ID_PATTERN)
# What the file routes accept as a `file_id`, like JOB_ID_PARAM_PATTERN: junk is a 422, a token
# that is not one of our ids a 404 (`is_file_id` checks the exact form).
FILE_ID_PARAM_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def new_file_id() -> str:
    return f"file_{os.urandom(16).hex()}"


def is_file_id(value: str) -> bool:
    return bool(_FILE_ID.fullmatch(value))
