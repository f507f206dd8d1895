"""The one place DynamoDB errors become domain errors, for every table's data-access class."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from asyncjobs.errors import InfrastructureError


class ConditionFailed(Exception):
    """The item was not in the state the write required (someone else moved it first)."""


class InvalidWrite(Exception):
    """DynamoDB refused the request itself (ValidationException, e.g. an item over 400 KB): trying
    again cannot succeed, so this is not an InfrastructureError."""


_ser, _deser = TypeSerializer(), TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (`{"S": ...}`, `{"N": ...}`, ...)."""
    attribute: dict[str, Any] = _ser.serialize(value)
    return attribute


def from_attribute(raw: dict[str, Any]) -> Any:
    return _deser.deserialize(raw)


_WRITES = frozenset({"put_item", "update_item", "delete_item"})


class Table:
    """A DynamoDB table through the low-level client: conditional failures raise ConditionFailed,
    anything else that fails after the SDK's retries raises InfrastructureError."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def _call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._ddb, op)(TableName=self._table, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(str(exc)) from exc
            if code == "ValidationException" and op in _WRITES:
                raise InvalidWrite(f"DynamoDB {op} refused: {exc}") from exc
            raise InfrastructureError(f"DynamoDB {op} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise InfrastructureError(f"DynamoDB {op} failed: {exc}") from exc
