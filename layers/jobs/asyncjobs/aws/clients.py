"""Lazily created, cached boto3 clients: one per service per process, replaceable in tests."""

from __future__ import annotations

import gc
import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# What is loaded by now (boto3 and botocore, ~100,000 objects, and whatever the function imported
# before) lives as long as the process: moved out of the collector's reach (`gc.freeze`), so that
# the collections the rest of a cold start triggers, and every later one, stop scanning it again.
# Measured on 2026-11-26 (`python -m bench --only coldstart`, 2 shared cores): 8-23 ms less per
# cold start of the HTTP API functions, against a budget of ~60 ms above the floor.
gc.freeze()

__all__ = ["AWS_ERRORS", "ClientError", "client", "reset_clients"]

# What a failed AWS call raises once the SDK has given up: the service's answer or the transport.
AWS_ERRORS = (ClientError, BotoCoreError)

# Standard retry mode retries throttling and 5xx with backoff; short timeouts keep a stuck call
# from eating the function's whole timeout. What still fails after that surfaces to the caller.
# A listing queries a tenant's 16 shards at once (jobs/store.py): with botocore's default pool of
# 10 connections, 6 of them would open a new connection (TLS handshake included) every time.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=16,
)

# Presigned URLs and upload forms signed with SigV4, whatever botocore would pick for the region:
# S3 accepts only SigV4 in regions opened since 2014 and for KMS-encrypted objects.
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))


class _Client:
    """A service's client, created when first used (a call, `meta`, `exceptions`: any attribute).
    Adapters are wired with every client they may call, and an event often calls fewer: the
    webhook functions hold an SQS client for retries that a listing or a delivered webhook never
    sends. Creating one costs ~6 ms (an SQS client, measured after a DynamoDB client, 2 shared
    cores, 2026-11-26), against a cold start budget of ~50 ms above the floor."""

    __slots__ = ("_created", "_lock", "_service")

    def __init__(self, service: str) -> None:
        self._service = service
        self._created: Any = None
        # The local stack serves requests on several threads: one client per service, so that
        # what a test registers on `meta.events` applies to every call.
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        created = self._created
        if created is None:
            with self._lock:
                if self._created is None:
                    config = _S3_CONFIG if self._service == "s3" else _CONFIG
                    self._created = boto3.client(self._service, config=config)  # type: ignore[call-overload]
                created = self._created
        return getattr(created, name)

    def __repr__(self) -> str:
        return f"<{self._service} client{'' if self._created is not None else ', not created yet'}>"


@cache
def client(service: str) -> Any:
    """The process's client for `service`, created on first use."""
    return _Client(service)


def reset_clients() -> None:
    """Forget cached clients (tests point the process at a fresh moto backend)."""
    client.cache_clear()
