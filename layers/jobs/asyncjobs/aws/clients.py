"""Lazily created, cached boto3 clients: one per service per process, replaceable in tests."""

from __future__ import annotations

import gc
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


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_S3_CONFIG if service == "s3" else _CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests point the process at a fresh moto backend)."""
    client.cache_clear()
