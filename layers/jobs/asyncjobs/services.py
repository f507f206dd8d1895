"""The adapters a use case needs, built lazily from settings once per process."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache, cached_property
from typing import Any

from asyncjobs.actions.profiles import DEFAULT_PROFILE, PROFILES, profile_of
from asyncjobs.aws import clients
from asyncjobs.jobs.events import EventPublisher
from asyncjobs.jobs.files import ResultFiles
from asyncjobs.jobs.queue import JobQueue
from asyncjobs.jobs.store import JobStore
from asyncjobs.settings import Settings, get_settings


class Services:
    """The adapters, each built on first use, so a function only pays for the clients it calls
    (the status function never sends to SQS; each botocore client costs ~10-40 ms to create).

    An adapter passed in (a test's in-memory fake) is used as is and never built:
    `Services(settings, store=FakeJobStore(), queue=..., events=..., files=..., clock=...)`;
    `queues={"science": ...}` gives the queues of other runtime profiles than `standard`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: JobStore | None = None,
        queue: JobQueue | None = None,
        events: EventPublisher | None = None,
        files: ResultFiles | None = None,
        queues: dict[str, JobQueue] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._queues: dict[str, JobQueue] = dict(queues or {})
        given: dict[str, Any] = {"store": store, "queue": queue, "events": events, "files": files}
        # A cached_property is looked up in the instance's __dict__ first: a value put there wins.
        self.__dict__.update({name: adapter for name, adapter in given.items() if adapter is not None})

    @cached_property
    def store(self) -> JobStore:
        return JobStore(clients.client("dynamodb"), self.settings.jobs_table)

    @cached_property
    def queue(self) -> JobQueue:
        return JobQueue(clients.client("sqs"), self.settings.jobs_queue_url)

    def queue_for(self, profile: str) -> JobQueue:
        """The queue of a runtime profile's jobs (`actions.profiles`), built on first use."""
        if profile == DEFAULT_PROFILE:
            return self.queue
        queue = self._queues.get(profile)
        if queue is None:
            url = self.settings.resource(profile_of(profile).queue_variable)
            queue = self._queues[profile] = JobQueue(clients.client("sqs"), url)
        return queue

    def queue_fed_by(self, source_arn: str) -> JobQueue:
        """The profile queue a received message came from (its record's eventSourceARN): a queue's
        ARN and its URL both end in its name. One executor code serves every profile's function."""
        name = source_arn.rsplit(":", 1)[-1]
        for profile in PROFILES.values():
            url = self.settings.resources.get(profile.queue_variable, "")
            if url and url.rstrip("/").rsplit("/", 1)[-1] == name:
                return self.queue_for(profile.name)
        return self.queue

    @cached_property
    def events(self) -> EventPublisher:
        s = self.settings
        return EventPublisher(clients.client("events"), s.event_bus_name, s.event_source)

    @cached_property
    def files(self) -> ResultFiles:
        return ResultFiles(clients.client("s3"), self.settings.results_bucket)


def build_services(settings: Settings) -> Services:
    return Services(settings)


@cache
def get_services() -> Services:
    return build_services(get_settings())


def reset_services() -> None:
    """Drop cached settings, clients and services (tests change the environment between cases)."""
    get_services.cache_clear()
    get_settings.cache_clear()
    clients.reset_clients()
