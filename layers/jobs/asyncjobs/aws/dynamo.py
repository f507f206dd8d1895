"""The one place DynamoDB errors become domain errors, and the one encoding of Python values as
DynamoDB items, for every table's data-access class."""

from __future__ import annotations

from decimal import Decimal
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


def number(value: float) -> Decimal:
    """A float as a DynamoDB number, kept to the millisecond (the SDK refuses Python floats)."""
    return Decimal(str(round(value, 3)))


def _storable(value: Any) -> Any:
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """A value as DynamoDB gave it back, with Python numbers: Decimal becomes int when whole, else
    float, in nested maps and lists too."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def to_attribute(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (`{"S": ...}`, `{"N": ...}`, ...): floats to
    milliseconds, tuples as lists, None left out of maps."""
    attribute: dict[str, Any] = _ser.serialize(_storable(value))
    return attribute


def from_attribute(raw: dict[str, Any]) -> Any:
    return plain(_deser.deserialize(raw))


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """An item (or a key, or expression values) in DynamoDB's form; None values are left out."""
    return {k: to_attribute(v) for k, v in values.items() if v is not None}


def from_item(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: from_attribute(v) for k, v in raw.items()}


_WRITES = frozenset({"put_item", "update_item", "delete_item", "transact_write_items"})


class Table:
    """A DynamoDB table through the low-level client: conditional failures raise ConditionFailed,
    anything else that fails after the SDK's retries raises InfrastructureError."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def _call(self, op: str, **kwargs: Any) -> Any:
        return self._client_call(op, TableName=self._table, **kwargs)

    def _transact_write(self, *items: dict[str, dict[str, Any]]) -> None:
        """Writes `items` (`{"Put": {...}}`, `{"Update": {...}}`, ...) on this table, all or none;
        ConditionFailed when a condition of any of them fails."""
        self._client_call(
            "transact_write_items",
            TransactItems=[
                {kind: {"TableName": self._table, **spec} for kind, spec in i.items()} for i in items
            ],
        )

    def _client_call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._ddb, op)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
            if code == "ConditionalCheckFailedException" or (
                code == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons
            ):
                raise ConditionFailed(str(exc)) from exc
            if code == "ValidationException" and op in _WRITES:
                raise InvalidWrite(f"DynamoDB {op} refused: {exc}") from exc
            raise InfrastructureError(f"DynamoDB {op} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise InfrastructureError(f"DynamoDB {op} failed: {exc}") from exc
