"""Typed settings, read once from the environment the template gives each function.

The only module that reads the environment. Every variable is read and checked (numbers, flags,
networks) in one pass, but the AWS resource names are required only when read: a function fails
with SettingsError on the first resource it uses and was not given, not on one it never uses (the
authorizer needs TENANTS_TABLE, not JOBS_QUEUE_URL).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The AWS resources a function may be given: table, queue, bus and bucket names and URLs.
RESOURCES = (
    "JOBS_TABLE",
    "JOBS_QUEUE_URL",
    "SCIENCE_QUEUE_URL",
    "EVENT_BUS_NAME",
    "RESULTS_BUCKET",
    "TENANTS_TABLE",
    "IDEMPOTENCY_TABLE",
    "WEBHOOKS_TABLE",
    "WEBHOOK_QUEUE_URL",
)


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed (a deployment error)."""


@dataclass(frozen=True)
class Settings:
    # Resource names by environment variable, as given; read through the properties below.
    resources: Mapping[str, str] = field(default_factory=dict)
    event_source: str = "asyncjobs"
    job_ttl_days: int = 7
    # Must equal the JobsQueue RedrivePolicy maxReceiveCount (the template passes the same parameter
    # to both): the executor uses the last two receives to end the job `failed` instead of letting
    # the message reach the dead-letter queue with the job still in progress.
    max_receive_count: int = 5
    # Minimum seconds between two progress writes of one job (cost control; 0 writes every report).
    progress_interval_s: float = 1.0
    # Seconds a caller is told to wait before polling (Retry-After on 202).
    poll_after_s: int = 2
    download_url_ttl_s: int = 900
    # Webhook receivers must use https; `false` only where receivers are local (the local stack).
    webhook_require_https: bool = True
    # Non-public networks webhooks may reach anyway (the local stack's 127.0.0.0/8); none deployed.
    webhook_allowed_networks: tuple[Network, ...] = ()
    # Divides every webhook retry delay (tests and the local stack run the schedule faster).
    webhook_time_scale: float = 1.0

    def resource(self, variable: str) -> str:
        value = self.resources.get(variable)
        if not value:
            raise SettingsError(f"missing environment variable {variable}")
        return value

    @property
    def jobs_table(self) -> str:
        return self.resource("JOBS_TABLE")

    @property
    def jobs_queue_url(self) -> str:
        return self.resource("JOBS_QUEUE_URL")

    @property
    def event_bus_name(self) -> str:
        return self.resource("EVENT_BUS_NAME")

    @property
    def results_bucket(self) -> str:
        return self.resource("RESULTS_BUCKET")

    @property
    def tenants_table(self) -> str:
        return self.resource("TENANTS_TABLE")

    @property
    def idempotency_table(self) -> str:
        return self.resource("IDEMPOTENCY_TABLE")

    @property
    def webhooks_table(self) -> str:
        return self.resource("WEBHOOKS_TABLE")

    @property
    def webhook_queue_url(self) -> str:
        return self.resource("WEBHOOK_QUEUE_URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads `environ` (the process environment by default); raises SettingsError naming the
        variable when a value is malformed."""
        env = _Env(os.environ if environ is None else environ)
        return cls(
            resources={name: env.raw[name] for name in RESOURCES if env.raw.get(name)},
            event_source=env.raw.get("EVENT_SOURCE") or "asyncjobs",
            job_ttl_days=env.integer("JOB_TTL_DAYS", 7),
            max_receive_count=env.integer("MAX_RECEIVE_COUNT", 5),
            progress_interval_s=env.number("PROGRESS_INTERVAL_SECONDS", 1.0),
            poll_after_s=env.integer("POLL_AFTER_SECONDS", 2),
            download_url_ttl_s=env.integer("DOWNLOAD_URL_TTL_SECONDS", 900),
            webhook_require_https=env.flag("WEBHOOK_REQUIRE_HTTPS", True),
            webhook_allowed_networks=env.networks("WEBHOOK_ALLOWED_NETWORKS"),
            webhook_time_scale=env.number("WEBHOOK_TIME_SCALE", 1.0),
        )


@dataclass(frozen=True)
class _Env:
    """Typed reads of one environment; an empty value counts as unset."""

    raw: Mapping[str, str]

    def integer(self, name: str, default: int) -> int:
        raw = self.raw.get(name)
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc

    def number(self, name: str, default: float) -> float:
        raw = self.raw.get(name)
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError as exc:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from exc

    def flag(self, name: str, default: bool) -> bool:
        # As the template's parameter allows it: anything but false/0/no (any case) is true.
        raw = self.raw.get(name)
        return default if not raw else raw.lower() not in ("false", "0", "no")

    def networks(self, name: str) -> tuple[Network, ...]:
        raw = self.raw.get(name) or ""
        try:
            return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in raw.split(",") if n.strip())
        except ValueError as exc:
            raise SettingsError(f"{name} must be comma-separated networks (CIDR), got {raw!r}") from exc


@cache
def get_settings() -> Settings:
    return Settings.from_env()
