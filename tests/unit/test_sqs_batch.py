"""SQS partial batch responses (`asyncjobs.aws.sqs_batch`): which messages Lambda gets back."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from asyncjobs.aws.sqs_batch import SQSRecord, process_batch

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "events" / "executor.json").read_text())["Records"][0]


def _batch(*ids: str) -> dict[str, Any]:
    records = []
    for n, message_id in enumerate(ids, start=1):
        record = copy.deepcopy(SAMPLE)
        record.update(messageId=message_id, body=json.dumps({"n": n}), receiptHandle=f"handle-{n}")
        record["attributes"]["ApproximateReceiveCount"] = str(n)
        records.append(record)
    return {"Records": records}


def _failing_for(*bad: str):
    seen: list[str] = []

    def handler(record: SQSRecord) -> None:
        seen.append(record.message_id)
        if record.message_id in bad:
            raise RuntimeError(f"cannot process {record.message_id}")

    return handler, seen


def test_a_batch_that_all_succeeds_reports_no_failure():
    handler, seen = _failing_for()
    assert process_batch(_batch("a", "b", "c"), handler) == {"batchItemFailures": []}
    assert seen == ["a", "b", "c"]


def test_one_failure_is_reported_by_its_message_id_and_the_others_still_run():
    handler, seen = _failing_for("b")
    assert process_batch(_batch("a", "b", "c"), handler) == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert seen == ["a", "b", "c"]


def test_a_batch_that_all_fails_reports_every_message_and_raises_nothing():
    handler, _ = _failing_for("a", "b", "c")
    assert process_batch(_batch("a", "b", "c"), handler) == {
        "batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}, {"itemIdentifier": "c"}]
    }


def test_an_empty_batch_reports_no_failure():
    handler, seen = _failing_for()
    assert process_batch({"Records": []}, handler) == {"batchItemFailures": []}
    assert seen == []


@pytest.mark.parametrize("event", [{}, {"detail-type": "job.succeeded", "detail": {}}, {"Records": "a"}])
def test_an_event_that_is_not_an_sqs_batch_is_refused(event):
    # Acknowledging it would answer "all done" for something never processed
    with pytest.raises(ValueError):
        process_batch(event, lambda record: None)


def test_a_record_gives_the_fields_the_functions_read():
    seen: list[tuple[str, str, str, int]] = []
    process_batch(
        _batch("a", "b"),
        lambda r: seen.append((r.message_id, r.body, r.receipt_handle, r.receive_count)),
    )
    assert seen == [("a", '{"n": 1}', "handle-1", 1), ("b", '{"n": 2}', "handle-2", 2)]


def test_a_failure_is_logged_with_its_message_id(caplog):
    handler, _ = _failing_for("b")
    with caplog.at_level(logging.DEBUG, logger="asyncjobs.aws.sqs_batch"):
        process_batch(_batch("a", "b"), handler)
    [entry] = caplog.records
    assert entry.message_id == "b"
    assert "RuntimeError: cannot process b" in entry.getMessage()


def test_an_interrupt_is_not_reported_as_a_failed_record():
    # The invocation fails instead, and Lambda hands the whole batch out again
    def handler(record: SQSRecord) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        process_batch(_batch("a"), handler)


@pytest.mark.parametrize("bad", [(), ("a",), ("b", "c"), ("a", "b", "c")])
def test_the_answer_is_the_one_powertools_gave(bad):
    # Given the batch utility these functions used before, configured as they configured it
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def theirs(record: Any) -> None:
        if record.message_id in bad:
            raise RuntimeError("no")

    ours, _ = _failing_for(*bad)
    event = _batch("a", "b", "c")

    # When both process the same batch with the same failures, then they answer alike
    assert process_batch(event, ours) == process_partial_response(
        event=event, record_handler=theirs, processor=processor
    )
