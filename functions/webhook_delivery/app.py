"""WebhookDeliveryFunction: fans job events out to subscriptions (EventBridge rule), making each
delivery's first attempt there and then, and makes one signed retry per message (WebhookQueue), on
the Standard Webhooks schedule.
It also drains WebhookDLQ: fan-outs that failed their asynchronous tries and attempts whose
processing failed five times are done again from there, until they succeed."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asyncjobs.aws.sqs_batch import SQSRecord, process_batch
from asyncjobs.observability import logger
from asyncjobs.webhooks.delivery import Deliverer, deliverer_from_env


def _deliverer() -> Deliverer:
    return deliverer_from_env()  # cheap: the AWS clients underneath are cached


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    deliverer = _deliverer()
    if "detail-type" in event:
        # From the EventBridge rule (an asynchronous invocation): an error makes Lambda retry
        # the event; deliveries already written are neither written nor attempted twice.
        deliverer.fan_out(event, remaining_s=context.get_remaining_time_in_millis() / 1000)
        return None

    def record_handler(record: SQSRecord) -> None:
        logger.remove_keys(["delivery_id", "sub_id", "job_id"])
        try:
            message = json.loads(record.body)
            if isinstance(message, dict) and "requestPayload" in message:
                # From WebhookDLQ: a job event whose fan-out failed all its asynchronous tries
                # (Lambda's OnFailure record). Fanned out again: nothing is lost to an outage.
                deliverer.fan_out(
                    message["requestPayload"], remaining_s=context.get_remaining_time_in_millis() / 1000
                )
                return
            # A retry (or a queued first attempt), from WebhookQueue or, after five failed
            # processings, from WebhookDLQ.
            deliverer.attempt(message, remaining_s=context.get_remaining_time_in_millis() / 1000)
        except Exception:
            logger.exception("delivery message not processed; it will come back")
            raise

    return process_batch(event, record_handler)
