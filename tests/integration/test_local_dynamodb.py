"""The local stack's DynamoDB keeps DynamoDB's promise the job state machines rely on: each
single-item conditional write is atomic. moto's server checks a condition, then writes, on
whichever thread serves the request; on a loaded machine a thread can be descheduled in between
(simulated here by a pause), and two racing writes (a cancel and a claim of one queued job) would
both pass. The local stack serialises DynamoDB requests so exactly one does."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.parsing import validators

from devstack.server import _moto_server, free_port


@pytest.fixture
def dynamodb(monkeypatch):
    original = validators.UpdateExpressionValidator.validate

    def descheduled(self):  # runs after moto checked the condition, before it writes
        time.sleep(0.05)
        return original(self)

    monkeypatch.setattr(validators.UpdateExpressionValidator, "validate", descheduled)
    port = free_port("127.0.0.1")
    server = _moto_server("127.0.0.1", port)
    server.start()
    try:
        yield lambda: boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.stop()


def test_of_racing_conditional_writes_to_one_item_exactly_one_passes(dynamodb):
    ddb = dynamodb()
    ddb.create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="jobs", Item={"job_id": {"S": "j"}, "status": {"S": "queued"}})
    winners: list[str] = []
    start = threading.Barrier(8)

    def write(name: str) -> None:
        client = dynamodb()
        start.wait()
        try:
            client.update_item(
                TableName="jobs",
                Key={"job_id": {"S": "j"}},
                UpdateExpression="SET #s = :next",
                ConditionExpression="#s = :queued",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":next": {"S": name}, ":queued": {"S": "queued"}},
            )
            winners.append(name)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"

    threads = [threading.Thread(target=write, args=(f"writer-{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(winners) == 1, winners
    stored = ddb.get_item(TableName="jobs", Key={"job_id": {"S": "j"}})["Item"]["status"]["S"]
    assert stored == winners[0]
