"""The local stack serves whatever the template declares, and only that: a function, route and
rule added to a copy of template.yaml work locally with no change to the local stack; a timeout
set in the copy is enforced the way Lambda enforces it."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.e2e.client import LocalStackProcess, copy_template

HELLO = """
import json
import os

import boto3


def handler(event, context):
    if "rawPath" in event:  # an HTTP API request
        body = {"hello": event["pathParameters"]["name"], "function": context.function_name,
                "greeting": os.environ["GREETING"]}
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
    # an EventBridge event: leave a trace the test can read
    boto3.client("s3").put_object(Bucket=os.environ["RESULTS_BUCKET"],
                                  Key="rule-hits/" + event["detail"]["job_id"], Body=json.dumps(event))
    return {}
"""

FAILING = """
def handler(event, context):
    raise RuntimeError("this function always fails")
"""

EXTRA = """
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}
      Handler: app.handler
      Environment:
        Variables:
          GREETING: hi
      Events:
        Hello:
          Type: HttpApi
          Properties:
            ApiId: !Ref JobsApi
            Method: GET
            Path: /hello/{{name}}
            Auth:
              Authorizer: NONE
        JobSucceeded:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref JobsEventBus
            Pattern:
              source: [asyncjobs]
              detail-type: [Job Succeeded]

  FailedEventsQueue:
    Type: AWS::SQS::Queue

  FailingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {failing}
      Handler: app.handler
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt FailedEventsQueue.Arn
      Events:
        JobSucceeded:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref JobsEventBus
            Pattern:
              source: [asyncjobs]
              detail-type: [Job Succeeded]
"""


def _auth(stack):
    return {"Authorization": f"Bearer {stack.key}"}


@pytest.fixture(scope="module")
def copy_stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("copy")
    (work / "hello").mkdir()
    (work / "hello" / "app.py").write_text(HELLO)
    (work / "failing").mkdir()
    (work / "failing" / "app.py").write_text(FAILING)
    template = copy_template(
        work,
        [
            # a short executor timeout, and a visibility timeout still longer than it
            ("      Timeout: 300\n", "      Timeout: 1\n"),
            ("VisibilityTimeout: 1800", "VisibilityTimeout: 3"),
            ("ReauthorizeEvery: 300", "ReauthorizeEvery: 2"),
        ],
        extra_resources=EXTRA.format(code=work / "hello", failing=work / "failing"),
    )
    with LocalStackProcess(template, work) as stack:
        stack.key = stack.create_key("t")
        yield stack
    assert stack.returncode == 0


def test_route_added_to_the_copy_is_served(copy_stack):
    reply = requests.get(f"{copy_stack.base_url}/hello/ada", timeout=10)
    assert reply.status_code == 200
    assert reply.json() == {"hello": "ada", "function": "asyncjobs-local-HelloFunction", "greeting": "hi"}


def test_rule_added_to_the_copy_delivers_to_its_function(copy_stack):
    run = requests.post(
        f"{copy_stack.base_url}/v2/tenants/t/diagnostic/run", json={}, timeout=10, headers=_auth(copy_stack)
    )
    job_id = run.json()["job_id"]
    s3 = copy_stack.boto3_client("s3")
    bucket = copy_stack.state["outputs"]["ResultsBucketName"]
    deadline = time.monotonic() + 20
    while True:
        try:
            event = json.loads(s3.get_object(Bucket=bucket, Key=f"rule-hits/{job_id}")["Body"].read())
            break
        except s3.exceptions.NoSuchKey:
            assert time.monotonic() < deadline, copy_stack.log()
            time.sleep(0.2)
    assert event["detail-type"] == "Job Succeeded" and event["source"] == "asyncjobs"
    assert event["account"] and event["region"] == "us-east-1"  # the shape AWS sends to Lambda
    assert event["detail"]["job_id"] == job_id


def test_failed_asynchronous_invocation_goes_to_its_on_failure_destination(copy_stack):
    run = requests.post(
        f"{copy_stack.base_url}/v2/tenants/t/diagnostic/run", json={}, timeout=10, headers=_auth(copy_stack)
    )
    job_id = run.json()["job_id"]
    sqs = copy_stack.boto3_client("sqs")
    url = sqs.get_queue_url(QueueName="asyncjobs-local-FailedEventsQueue")["QueueUrl"]
    deadline = time.monotonic() + 30
    records = []
    while not any(r["requestPayload"]["detail"]["job_id"] == job_id for r in records):
        assert time.monotonic() < deadline, copy_stack.log()
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            records.append(json.loads(m["Body"]))
    (record,) = [r for r in records if r["requestPayload"]["detail"]["job_id"] == job_id]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts: 0
    assert record["responsePayload"]["errorMessage"] == "this function always fails"
    assert record["requestPayload"]["detail-type"] == "Job Succeeded"


def test_invocation_over_its_timeout_fails_and_the_message_returns(copy_stack):
    # Each attempt outlives the 1 s timeout and is killed; the message comes back after the 3 s
    # visibility timeout; the last receive the queue allows ends the job failed.
    run = requests.post(
        f"{copy_stack.base_url}/v2/tenants/t/diagnostic/run",
        json={"duration_seconds": 30},
        timeout=10,
        headers=_auth(copy_stack),
    )
    location = copy_stack.base_url + run.headers["Location"]
    deadline = time.monotonic() + 40
    while (doc := requests.get(location, timeout=10, headers=_auth(copy_stack)).json())["status"] not in (
        "failed",
        "succeeded",
    ):
        assert time.monotonic() < deadline, copy_stack.log()
        time.sleep(0.3)
    assert doc["status"] == "failed" and doc["error"]["code"] == "attempts_exhausted"
    log = copy_stack.log()
    assert log.count("Task timed out after 1.00 seconds") == 3


def test_revoked_key_works_until_the_authorizer_cache_expires(copy_stack):
    from asyncjobs.tenancy.tenants import Tenants

    key = copy_stack.create_key("t")
    url = f"{copy_stack.base_url}/v2/tenants/t/jobs"
    headers = {"Authorization": f"Bearer {key}"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200  # verified and cached
    tenants = Tenants(copy_stack.boto3_client("dynamodb"), copy_stack.state["outputs"]["TenantsTableName"])
    key_id = key.split("_")[1]
    tenants.revoke_key("t", key_id)

    assert requests.get(url, headers=headers, timeout=10).status_code == 200  # still cached (TTL 2 s)
    time.sleep(2.2)
    reply = requests.get(url, headers=headers, timeout=10)
    assert reply.status_code == 401
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
