"""SQS partial batch responses for the queue-fed functions (executor, reconciler, webhook delivery).

Lambda deletes the messages of a batch whose invocation returns, except those the answer names in
`batchItemFailures`; those come back after their visibility timeout, and after `maxReceiveCount`
receives go to the dead-letter queue. `process_batch` calls a record handler per record and names
each record whose handler raised. It never raises for failed records, not even when all of them
failed (Powertools' `raise_on_entire_batch_failure=False`): every failure is reported the same
way, so Lambda retries exactly those messages and a failed invocation means a real crash.

Why not Powertools' `BatchProcessor` + `process_partial_response`, which did exactly this before:
the batch utility's import costs ~30 ms of a ~51 ms cold start budget (1.25x an `import boto3`
floor of ~205 ms). Measured on 2026-11-26, 2 shared cores, in a process that had already imported
boto3 and Powertools' logger and metrics: 28 ms at best (the least of 15 timed imports;
`python -X importtime` agrees), 55-65 ms as a median with other work running. Its package
imports asyncio and every event source data class, for the ~20 lines of logic the functions
use. The reconciler, for one, went from 1.49x to 1.31x its floor without it (`python -m bench
--only coldstart`, 21 rounds).

What is kept from Powertools: the answer's shape, an event without a `Records` list is refused
(ValueError: not an SQS batch, so never silently acknowledged), a failure is logged at debug level
(the record handlers log their own errors, at error level, with what they know of the message).
What differs: a record handler gets an `SQSRecord` of this module (the fields the functions read),
and an empty `Records` list, which Lambda never sends, is answered with no failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["SQSRecord", "process_batch"]

# A child of the package's logger ("asyncjobs"): written by the functions' Powertools Logger.
_log = logging.getLogger(__name__)


class SQSRecord:
    """One message of an SQS event, as Lambda's poller hands it over."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @property
    def message_id(self) -> str:
        return str(self.raw["messageId"])

    @property
    def body(self) -> str:
        return str(self.raw["body"])

    @property
    def receipt_handle(self) -> str:
        return str(self.raw["receiptHandle"])

    @property
    def event_source_arn(self) -> str:
        """The ARN of the queue it came from."""
        return str(self.raw.get("eventSourceARN", ""))

    @property
    def receive_count(self) -> int:
        """How many times SQS has handed this message out, this time included."""
        return int(self.raw["attributes"]["ApproximateReceiveCount"])


def process_batch(event: dict[str, Any], record_handler: Callable[[SQSRecord], object]) -> dict[str, Any]:
    """Calls `record_handler` once per record, in order, and answers with the records it raised for:
    `{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}` (an empty list: all done)."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    failures: list[dict[str, str]] = []
    for raw in records:
        record = SQSRecord(raw)
        try:
            record_handler(record)
        except Exception as exc:
            # BaseException (KeyboardInterrupt, SystemExit) goes through: the invocation fails and
            # the whole batch comes back, as it would without this function.
            _log.debug(
                "record failed: %s: %s", type(exc).__name__, exc, extra={"message_id": record.message_id}
            )
            failures.append({"itemIdentifier": record.message_id})
    return {"batchItemFailures": failures}
