"""The AWS adapters: cached boto3 clients and the DynamoDB table base (the only boto3 importers)."""
