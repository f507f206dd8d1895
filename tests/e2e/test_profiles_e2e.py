"""The local stack runs every runtime profile's executor from the template: the science queue is
provisioned and polled by ScienceExecutorFunction, as Lambda's event source mapping would."""

from __future__ import annotations

import json
import time


def test_science_queue_is_polled_by_the_science_executor(api, local):
    # Given a job that has ended (run by the standard executor)
    reply = api.run("/diagnostic", {"echo": {"n": 1}})
    assert reply.status == 202, reply.text
    assert api.wait(reply.headers["Location"])["status"] == "succeeded"
    # When its message is sent again, to the science profile's queue
    sqs = local.boto3_client("sqs")
    queue = local.state["outputs"]["ScienceJobsQueueUrl"]
    sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({"tenant_id": api.tenant, "job_id": reply.body["job_id"]})
    )
    # Then ScienceExecutorFunction receives it (and drops it: the job has ended), emptying the queue
    deadline = time.monotonic() + 30
    while "ScienceExecutorFunction ← " not in local.log():
        assert time.monotonic() < deadline, "ScienceExecutorFunction never polled its queue"
        time.sleep(0.2)
    assert "ScienceExecutorFunction ← " in local.log()
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
