"""ExecutorFunction and ScienceExecutorFunction (the same code, one per runtime profile's queue):
run queued jobs from SQS, reporting partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.aws.sqs_batch import SQSRecord, process_batch
from asyncjobs.jobs.executor import MessageRetry, process_message
from asyncjobs.observability import logger, metrics
from asyncjobs.services import get_services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    svc = get_services()

    def record_handler(record: SQSRecord) -> None:
        logger.remove_keys(["job_id", "tenant_id", "action", "receive_count", "attempt"])
        try:
            process_message(
                svc,
                record.body,
                receive_count=record.receive_count,
                remaining_s=context.get_remaining_time_in_millis() / 1000,
            )
        except MessageRetry as exc:
            logger.exception("message not processed; it will be delivered again")
            if exc.after_s is not None:
                svc.queue_fed_by(record.event_source_arn).return_in(record.receipt_handle, exc.after_s)
            raise
        except Exception:
            logger.exception("message not processed; it will be delivered again")
            raise

    # Reporting every failure (instead of raising when the whole batch fails) lets Lambda retry
    # exactly the failed messages and keeps failed-invocation metrics for real crashes.
    return process_batch(event, record_handler)
