"""template.yaml is the single truth: what it declares is what runs (and what tests run on)."""

from __future__ import annotations

import pytest

from asyncjobs.actions.registry import ACTIONS
from devstack.routes import http_routes, match_route


def _props(translated, logical_id):
    return translated.cfn["Resources"][logical_id]["Properties"]


def test_jobs_table_has_native_ttl_on_expires_at(harness):
    ttl = harness.ddb.describe_time_to_live(TableName=harness.env["JOBS_TABLE"])["TimeToLiveDescription"]
    assert ttl == {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"}


def test_jobs_table_is_on_demand_with_pitr_and_encryption(translated):
    props = _props(translated, "JobsTable")
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}


def test_queue_visibility_is_at_least_six_executor_timeouts(harness):
    attrs = harness.sqs.get_queue_attributes(QueueUrl=harness.trigger.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    executor = harness.stack.functions["ExecutorFunction"]
    assert int(attrs["VisibilityTimeout"]) >= 6 * executor.timeout


def test_redrive_count_is_the_one_the_executor_is_told(harness):
    import json

    attrs = harness.sqs.get_queue_attributes(
        QueueUrl=harness.trigger.queue_url, AttributeNames=["RedrivePolicy"]
    )
    policy = json.loads(attrs["Attributes"]["RedrivePolicy"])
    executor = harness.stack.functions["ExecutorFunction"]
    assert int(policy["maxReceiveCount"]) == int(executor.environment["MAX_RECEIVE_COUNT"])
    assert policy["deadLetterTargetArn"] == harness.stack.resources["JobsDLQ"]["Arn"]


def test_executor_reports_partial_batch_failures(harness):
    assert harness.trigger.function == "ExecutorFunction"
    assert harness.trigger.report_batch_item_failures


def test_dead_letter_queue_has_an_alarm(translated):
    alarm = _props(translated, "JobsDLQAlarm")
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {m["MetricName"] for m in stats.values()} == {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
    }
    for metric in stats.values():
        assert metric["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["JobsDLQ", "QueueName"]}}
        ]
    (expression,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert expression["Expression"] == "visible + inflight"


def test_dead_letter_queue_is_drained_by_the_reconciler(translated):
    (mapping,) = [
        r["Properties"]
        for r in translated.cfn["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["JobsDLQ", "Arn"]}
    ]
    assert mapping["FunctionName"] == {"Ref": "ReconcilerFunction"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq = _props(translated, "JobsDLQ")
    assert dlq["VisibilityTimeout"] >= _props(translated, "ReconcilerFunction")["Timeout"]
    # a backlog never loses a message to retention before its job expires
    assert _props(translated, "JobsQueue")["MessageRetentionPeriod"] > 7 * 86400


def test_functions_run_python313_on_arm64_with_the_layer(translated):
    functions = [r for r in translated.cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 8
    for fn in functions:
        assert fn["Properties"]["Runtime"] == "python3.13"
        assert fn["Properties"]["Architectures"] == ["arm64"]
        assert len(fn["Properties"]["Layers"]) == 1
    layer = translated.sam["Resources"]["JobsLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_route_is_served_by_the_template(translated, name):
    routes = http_routes(translated)
    action = ACTIONS[name]
    sample = action.path.replace("{", "x").replace("}", "")
    run = match_route(routes, "POST", f"/v2/tenants/acme{sample}/run")
    status = match_route(routes, "GET", f"/v2/tenants/acme{sample}/status")
    assert run is not None and run[0].function == "RunFunction"
    assert status is not None and status[0].function == "StatusFunction"
    assert match_route(routes, "POST", "/v2/tenants/acme/jobs/x/cancel")[0].function == "RunFunction"
    assert match_route(routes, "GET", "/v2/tenants/acme/jobs")[0].function == "StatusFunction"


def test_outputs_resolve(harness):
    outputs = harness.stack.outputs
    assert outputs["JobsTableName"] == harness.env["JOBS_TABLE"]
    assert outputs["JobsQueueUrl"] == harness.env["JOBS_QUEUE_URL"]
    assert outputs["EventBusName"] == harness.env["EVENT_BUS_NAME"]
    assert outputs["ApiUrl"].startswith("https://")


def test_committed_openapi_document_is_current():
    import json

    from devstack.openapi import build
    from tests.support import ROOT

    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == build(ROOT / "template.yaml"), "run `make openapi` and commit docs/openapi.json"


def test_openapi_document_is_valid():
    import json

    from openapi_spec_validator import validate

    from tests.support import ROOT

    # what a client generator reads: it must validate (no $ref to a schema that is not there)
    validate(json.loads((ROOT / "docs" / "openapi.json").read_text()))


@pytest.mark.parametrize(
    ("queue", "function", "alarm"),
    [
        ("JobsDLQ", "ReconcilerFunction", "JobsDLQAlarm"),
        ("WebhookDLQ", "WebhookDeliveryFunction", "WebhookDLQAlarm"),
    ],
)
def test_every_dead_letter_queue_is_drained_and_alarmed(translated, queue, function, alarm):
    sources = {
        r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: r["Properties"]["FunctionName"]["Ref"]
        for r in translated.cfn["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert sources[queue] == function
    assert _props(translated, queue)["VisibilityTimeout"] >= _props(translated, function)["Timeout"]
    metrics = _props(translated, alarm)["Metrics"]
    queues = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for m in metrics
        if "MetricStat" in m
    }
    assert queues == {queue}
