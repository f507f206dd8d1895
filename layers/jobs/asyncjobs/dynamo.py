"""The one place DynamoDB errors become domain errors, for every table's data-access class."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from asyncjobs.errors import InfrastructureError


class ConditionFailed(Exception):
    """The item was not in the state the write required (someone else moved it first)."""


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
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConditionFailed(str(exc)) from exc
            raise InfrastructureError(f"DynamoDB {op} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise InfrastructureError(f"DynamoDB {op} failed: {exc}") from exc
