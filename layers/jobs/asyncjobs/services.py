"""The adapters a use case needs, built lazily from settings once per process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from asyncjobs.aws import clients
from asyncjobs.jobs.events import EventPublisher
from asyncjobs.jobs.files import ResultFiles
from asyncjobs.jobs.queue import JobQueue
from asyncjobs.jobs.store import JobStore
from asyncjobs.settings import Settings, get_settings


@dataclass
class Services:
    settings: Settings
    store: JobStore
    queue: JobQueue
    events: EventPublisher
    files: ResultFiles
    clock: Callable[[], float] = field(default=time.time)


def build_services(settings: Settings) -> Services:
    return Services(
        settings=settings,
        store=JobStore(clients.client("dynamodb"), settings.jobs_table),
        queue=_Lazy(lambda: JobQueue(clients.client("sqs"), settings.jobs_queue_url)),  # type: ignore[arg-type]
        events=_Lazy(  # type: ignore[arg-type]
            lambda: EventPublisher(clients.client("events"), settings.event_bus_name, settings.event_source)
        ),
        files=_Lazy(lambda: ResultFiles(clients.client("s3"), settings.results_bucket)),  # type: ignore[arg-type]
    )


class _Lazy:
    """Builds its adapter on first use, so a function only pays for the clients it calls (the
    status function never sends to SQS; each botocore client costs ~10-40 ms to create)."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._target: object | None = None

    def __getattr__(self, name: str) -> object:
        if self._target is None:
            self._target = self._factory()
        return getattr(self._target, name)


@cache
def get_services() -> Services:
    return build_services(get_settings())


def reset_services() -> None:
    """Drop cached settings, clients and services (tests change the environment between cases)."""
    get_services.cache_clear()
    get_settings.cache_clear()
    clients.reset_clients()
