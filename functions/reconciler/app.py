"""ReconcilerFunction: settles job messages that reached the dead-letter queue, so that no job
stays `queued` or `in_progress` once its message has used up its receives."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.aws.sqs_batch import SQSRecord, process_batch
from asyncjobs.jobs.executor import settle_dead_letter
from asyncjobs.observability import logger, metrics
from asyncjobs.services import get_services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    svc = get_services()

    def record_handler(record: SQSRecord) -> None:
        logger.remove_keys(["job_id", "tenant_id", "action"])
        try:
            settle_dead_letter(svc, record.body)
        except ValueError:
            # Not a message a run function wrote: it stays in the dead-letter queue (the alarm fires).
            logger.error(
                "unreadable dead-lettered message kept for the operator", extra={"body": record.body[:1000]}
            )
            raise
        except Exception:
            logger.exception("dead-lettered message not settled; it will come back")
            raise

    return process_batch(event, record_handler)
