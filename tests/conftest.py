"""Test set-up: fake credentials and moto before any boto3 client exists, then a stack built from
template.yaml (never a hand-kept copy of it) for every test that needs AWS."""

from __future__ import annotations

import os

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_DEV="false",
)

import moto
import pytest

from devstack import template
from tests.support import ROOT, Harness

assert moto


@pytest.fixture(scope="session")
def translated() -> template.Translated:
    return template.load(ROOT / "template.yaml")


@pytest.fixture
def harness(translated, monkeypatch):
    with Harness.start(translated, monkeypatch) as h:
        yield h


@pytest.fixture
def log_lines():
    """The JSON log lines the functions write, as Lambda would ship them to CloudWatch."""
    import io
    import json

    from asyncjobs.observability import logger

    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    finally:
        logger.registered_handler.setStream(previous)
