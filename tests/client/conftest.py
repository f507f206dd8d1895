"""The client's tests run against one local stack per session, the end-to-end suite's (`api`, in
tests/conftest.py), over real sockets. Each test that counts jobs gets a tenant of its own."""

from __future__ import annotations

import uuid

import pytest

from asyncjobs_client import Client


@pytest.fixture
def tenant(local):
    """(tenant id, API key) of a new tenant: its job list holds only this test's jobs."""
    name = f"c-{uuid.uuid4().hex[:12]}"
    return name, local.create_key(name)


@pytest.fixture
def client(api, tenant):
    with Client(api.base_url, tenant[1], tenant[0], max_retries=3) as c:
        yield c


@pytest.fixture
def cli_env(api, tenant):
    return {"ASYNCJOBS_URL": api.base_url, "ASYNCJOBS_API_KEY": tenant[1], "ASYNCJOBS_TENANT": tenant[0]}
