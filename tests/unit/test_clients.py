"""The cached AWS clients (`asyncjobs.aws.clients`): created on first use, once per service."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from asyncjobs.aws import clients


@pytest.fixture
def created(monkeypatch):
    """The services boto3 was asked for a client of, in order."""
    made: list[str] = []

    class Client:
        def __init__(self, service: str) -> None:
            self.service = service

        def send_message(self, **kwargs: Any) -> str:
            return f"{self.service}:{kwargs['QueueUrl']}"

    def fake_client(service: str, **_: Any) -> Client:
        made.append(service)
        return Client(service)

    monkeypatch.setattr(clients.boto3, "client", fake_client)
    clients.reset_clients()
    yield made
    clients.reset_clients()


def test_a_client_is_created_when_first_used_not_when_wired(created):
    # Given an adapter wired with a client it may never call
    sqs = clients.client("sqs")
    assert created == []

    # When it is called, then the client is created, once, and answers
    assert sqs.send_message(QueueUrl="q") == "sqs:q"
    assert sqs.send_message(QueueUrl="r") == "sqs:r"
    assert clients.client("sqs") is sqs
    assert created == ["sqs"]


def test_threads_using_a_new_client_share_one(created):
    sqs = clients.client("sqs")
    start = threading.Barrier(8)

    def use() -> None:
        start.wait()
        sqs.send_message(QueueUrl="q")

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert created == ["sqs"]


def test_reset_clients_makes_new_ones(created):
    clients.client("sqs").send_message(QueueUrl="q")
    clients.reset_clients()
    clients.client("sqs").send_message(QueueUrl="q")
    assert created == ["sqs", "sqs"]
