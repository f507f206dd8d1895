"""The one DynamoDB encoding every store uses, and how Table turns SDK errors into domain errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from asyncjobs.aws.dynamo import (
    ConditionFailed,
    InvalidWrite,
    Table,
    from_attribute,
    from_item,
    number,
    to_attribute,
    to_item,
)
from asyncjobs.errors import InfrastructureError


def test_floats_are_kept_to_the_millisecond():
    assert number(1700000000.123456) == Decimal("1700000000.123")
    assert to_attribute(0.1) == {"N": "0.1"}
    assert to_attribute(2.0) == {"N": "2.0"}


def test_none_is_left_out_of_items_and_nested_maps():
    # Given values with None at the top and inside a map (a secret without expiry)
    item = to_item({"a": 1, "gone": None, "m": {"x": "y", "none": None}})

    # Then neither None is stored
    assert item == {"a": {"N": "1"}, "m": {"M": {"x": {"S": "y"}}}}


def test_a_round_trip_gives_back_python_numbers():
    # Given an item with floats, ints, a tuple and nested maps and lists
    values: dict[str, Any] = {
        "s": "text",
        "n": 7,
        "f": 12.5,
        "t": 1700000000.1234,
        "flag": True,
        "events": ("job.succeeded", "job.failed"),
        "secrets": [{"value": "v", "created_at": 1.5, "expires_at": None}],
        "nested": {"size_bytes": 1024, "ratio": 0.25, "deep": [1, 2.5, {"k": 3}]},
    }

    # When it is encoded and decoded
    back = from_item(to_item(values))

    # Then numbers come back as int when whole, else float (milliseconds); tuples as lists
    assert back == {
        "s": "text",
        "n": 7,
        "f": 12.5,
        "t": 1700000000.123,
        "flag": True,
        "events": ["job.succeeded", "job.failed"],
        "secrets": [{"value": "v", "created_at": 1.5}],
        "nested": {"size_bytes": 1024, "ratio": 0.25, "deep": [1, 2.5, {"k": 3}]},
    }
    assert type(back["n"]) is int and type(back["f"]) is float
    assert type(back["nested"]["deep"][0]) is int


def test_a_whole_float_comes_back_as_an_int():
    assert from_attribute(to_attribute(3.0)) == 3
    assert type(from_attribute({"N": "3"})) is int


class _Client:
    """A DynamoDB client that fails every call with the given error and records the request."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, op: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self.calls.append((op, kwargs))
            raise self.error

        return call


def _error(code: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, **extra}, "Op")


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (_error("ConditionalCheckFailedException"), ConditionFailed),
        (_error("ValidationException"), InvalidWrite),
        (_error("ProvisionedThroughputExceededException"), InfrastructureError),
        (EndpointConnectionError(endpoint_url="http://x"), InfrastructureError),
    ],
)
def test_table_turns_sdk_errors_into_domain_errors(error, raised):
    table = Table(_Client(error), "t")
    with pytest.raises(raised):
        table._call("put_item", Item={})


def test_a_transaction_names_the_table_and_a_failed_condition_is_condition_failed():
    # Given a transaction one of whose conditions fails
    client = _Client(
        _error(
            "TransactionCanceledException",
            CancellationReasons=[{"Code": "None"}, {"Code": "ConditionalCheckFailed"}],
        )
    )

    # When it is written, Then ConditionFailed, and every item was addressed to the table
    with pytest.raises(ConditionFailed):
        Table(client, "t")._transact_write({"Put": {"Item": {}}}, {"Update": {"Key": {}}})
    ((op, kwargs),) = client.calls
    assert op == "transact_write_items"
    assert kwargs["TransactItems"] == [
        {"Put": {"TableName": "t", "Item": {}}},
        {"Update": {"TableName": "t", "Key": {}}},
    ]


def test_a_transaction_cancelled_otherwise_is_an_infrastructure_error():
    client = _Client(
        _error("TransactionCanceledException", CancellationReasons=[{"Code": "ThrottlingError"}])
    )
    with pytest.raises(InfrastructureError):
        Table(client, "t")._transact_write({"Put": {"Item": {}}})
