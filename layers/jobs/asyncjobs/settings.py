"""Typed settings, read once from the environment the template gives each function."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed (a deployment error)."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    jobs_table: str
    jobs_queue_url: str
    event_bus_name: str
    results_bucket: str
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

    @classmethod
    def from_env(cls) -> Settings:
        missing = [
            n
            for n in ("JOBS_TABLE", "JOBS_QUEUE_URL", "EVENT_BUS_NAME", "RESULTS_BUCKET")
            if not os.environ.get(n)
        ]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            jobs_table=os.environ["JOBS_TABLE"],
            jobs_queue_url=os.environ["JOBS_QUEUE_URL"],
            event_bus_name=os.environ["EVENT_BUS_NAME"],
            results_bucket=os.environ["RESULTS_BUCKET"],
            event_source=os.environ.get("EVENT_SOURCE") or "asyncjobs",
            job_ttl_days=_int("JOB_TTL_DAYS", 7),
            max_receive_count=_int("MAX_RECEIVE_COUNT", 5),
            progress_interval_s=_float("PROGRESS_INTERVAL_SECONDS", 1.0),
            poll_after_s=_int("POLL_AFTER_SECONDS", 2),
            download_url_ttl_s=_int("DOWNLOAD_URL_TTL_SECONDS", 900),
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SettingsError(f"missing environment variable {name}")
    return value
