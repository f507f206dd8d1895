"""The AWS adapters: cached boto3 clients and the DynamoDB table base (the only boto3 importers),
and the SQS partial batch answer of the queue-fed functions (`sqs_batch`)."""
