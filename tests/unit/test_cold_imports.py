"""Guards the cold-start work: a function's handler module must not import what its first event
does not need. Each check runs in a fresh interpreter, as Lambda's cold start does.

Figures behind the list (`python -m bench --only coldstart` and import timings, 2026-11-26, 2
shared cores): against a floor (`import boto3` + the clients) of ~210 ms and a target of 1.25x
that floor, Powertools' event handler package costs ~35-40 ms to import (its `__init__` imports
every resolver, the event data classes and asyncio), its batch utility ~30 ms (asyncio and every
event data class too), and pydantic ~65 ms before its first model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncjobs.actions.registry import ACTIONS
from tests.support import run_in_function

ROOT = Path(__file__).resolve().parents[2]
EVENT_HANDLER = "aws_lambda_powertools.event_handler"
# The queue-fed functions answer partial batch failures with `asyncjobs.aws.sqs_batch`.
BATCH = "aws_lambda_powertools.utilities.batch"

# function directory -> modules its handler module must not import
MUST_NOT_IMPORT = {
    # The HTTP API functions route with `asyncjobs.http.router`; Powertools builds the OpenAPI
    # document offline only (`asyncjobs.http.openapi`, with the response models of
    # `asyncjobs.http.v2.schemas`; Haven's description is `asyncjobs.haven.openapi`).
    # A run route's signature, so its action's input model, is built when the route first runs:
    # the first event imports one action's module, not all of them.
    "run": [
        EVENT_HANDLER,
        "asyncjobs.http.openapi",
        "asyncjobs.http.v2.schemas",
        "aws_lambda_powertools.utilities.idempotency",
        *[f"asyncjobs.actions.{name}" for name in ACTIONS],
    ],
    # Status and webhooks read no body on their usual requests: request bodies, the actions'
    # input models and pydantic load when a route needs them (`http.lazy`, `actions.declaration`).
    "status": [
        EVENT_HANDLER,
        "asyncjobs.http.openapi",
        "asyncjobs.http.v2.schemas",
        "pydantic",
        "python_multipart",
    ],
    "webhooks": [EVENT_HANDLER, "asyncjobs.http.openapi", "asyncjobs.http.v2.schemas", "pydantic"],
    "authorizer": [EVENT_HANDLER, "pydantic", BATCH],
    # A Haven status poll reads a job: the actions' input models (pydantic) load on a submit only.
    "haven": [
        EVENT_HANDLER,
        "pydantic",
        "python_multipart",
        "aws_lambda_powertools.utilities.idempotency",
        "asyncjobs.haven.openapi",
    ],
    # The reconciler ends jobs without running their action: no input model, no pydantic.
    "reconciler": [EVENT_HANDLER, BATCH, "pydantic", "asyncjobs.actions.registry"],
    "executor": [EVENT_HANDLER, BATCH],
    "webhook_delivery": [EVENT_HANDLER, BATCH],
}

# The science layer's libraries (the `science` runtime profile: actions/profiles.py). Only
# ScienceExecutorFunction carries them, and its actions import them inside `run`: no handler module
# may import them, the executor's included (ExecutorFunction has no science layer at all).
SCIENCE = ["pvlib", "shapely", "numpy", "pandas", "scipy"]
for _modules in MUST_NOT_IMPORT.values():
    _modules.extend(SCIENCE)

_PROBE = """
import json, sys
import app
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(function: str) -> set[str]:
    return set(json.loads(run_in_function(function, _PROBE).strip().splitlines()[-1]))


@pytest.mark.parametrize("function", sorted(MUST_NOT_IMPORT))
def test_handler_module_does_not_import_heavy_modules(function):
    # Given a function's handler module, when a fresh interpreter imports it,
    # then none of the modules its first event does without is loaded
    loaded = _loaded(function)
    offending = [m for m in MUST_NOT_IMPORT[function] if m in loaded]
    assert offending == [], f"functions/{function}/app.py imports {offending}"


def test_the_probe_sees_what_a_handler_imports():
    # Given the executor, which answers with `asyncjobs.aws.sqs_batch` and logs with Powertools,
    # when its handler module is imported, then the probe sees both (a probe that saw nothing would
    # make the checks above pass vacuously)
    loaded = _loaded("executor")
    assert {"asyncjobs.aws.sqs_batch", "aws_lambda_powertools.logging"} <= loaded
