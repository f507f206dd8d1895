"""template.yaml is the single truth: what it declares is what runs (and what tests run on)."""

from __future__ import annotations

import re

import pytest

from asyncjobs.actions.profiles import PROFILES
from asyncjobs.actions.registry import ACTIONS
from devstack.routes import http_routes, match_route
from tests.integration.test_iam import granted


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
    assert len(functions) == 9
    for fn in functions:
        assert fn["Properties"]["Runtime"] == "python3.13"
        assert fn["Properties"]["Architectures"] == ["arm64"]
        assert fn["Properties"]["Layers"][0]["Ref"].startswith("JobsLayer")  # JobsLayer<hash>: a version
    # each profile's executor carries its own layer after the jobs layer: the API functions neither
    layered = {
        lid: [re.sub(r"[0-9a-f]{10}$", "", ref["Ref"]) for ref in r["Properties"]["Layers"]]
        for lid, r in translated.cfn["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and len(r["Properties"]["Layers"]) > 1
    }
    assert layered == {
        "ExecutorFunction": ["JobsLayer", "DocumentsLayer"],
        "ScienceExecutorFunction": ["JobsLayer", "ScienceLayer"],
    }
    for name in ("JobsLayer", "DocumentsLayer", "ScienceLayer"):
        layer = translated.sam["Resources"][name]
        assert layer["Metadata"]["BuildMethod"] == "python3.13", name
        assert layer["Metadata"]["BuildArchitecture"] == "arm64", name


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_runtime_profile_has_its_queue_executor_and_dead_letter_queue(translated, profile):
    # Given a runtime profile declared in actions/profiles.py
    declared = PROFILES[profile]
    resources = translated.cfn["Resources"]
    # Then every function is told its queue's URL, under the variable the profile names
    variables = translated.sam["Globals"]["Function"]["Environment"]["Variables"]
    queue = variables[declared.queue_variable]["Ref"]
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    # and that queue feeds the profile's executor (the same code as every executor), one job at a time
    mappings = {
        r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert mappings[queue]["FunctionName"] == {"Ref": declared.executor}
    assert mappings[queue]["BatchSize"] == 1
    assert mappings[queue]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert translated.sam["Resources"][declared.executor]["Properties"]["CodeUri"] == "functions/executor/"
    # and its visibility timeout is 6 x the executor's timeout, its redrive the executor's count
    queue_props, executor = _props(translated, queue), _props(translated, declared.executor)
    assert queue_props["VisibilityTimeout"] == 6 * executor["Timeout"]
    assert queue_props["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    # and its dead-letter queue is drained by the reconciler
    dlq = queue_props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert mappings[dlq]["FunctionName"] == {"Ref": "ReconcilerFunction"}
    # and its jobs' messages may be sent there: first messages by the run functions, a
    # continuation's by the profile's executor, a lost one's again by the reconciler
    for function in ("RunFunction", "HavenFunction", declared.executor, "ReconcilerFunction"):
        assert queue in granted(translated, function).get("sqs:SendMessage", set()), function


def test_every_action_declares_a_known_profile():
    assert {a.profile for a in ACTIONS.values()} <= set(PROFILES)


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
    assert outputs["ScienceJobsQueueUrl"] == harness.env["SCIENCE_QUEUE_URL"]
    assert outputs["EventBusName"] == harness.env["EVENT_BUS_NAME"]
    assert outputs["ApiUrl"].startswith("https://")


def test_committed_openapi_document_is_current():
    import json

    from devstack.openapi import build
    from tests.support import ROOT

    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    # docs/openapi.json links to the layer's copy, which `make openapi` writes
    assert committed == build(ROOT / "template.yaml"), (
        "run `make openapi` and commit layers/jobs/asyncjobs/openapi.json"
    )


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
        ("ScienceJobsDLQ", "ReconcilerFunction", "ScienceJobsDLQAlarm"),
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


# -- production fitness: logs, access logs, alarms ---------------------------------------------


def _functions(translated) -> list[str]:
    return sorted(
        lid for lid, r in translated.sam["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    )


def _of_type(translated, rtype: str) -> dict[str, dict]:
    return {lid: r["Properties"] for lid, r in translated.cfn["Resources"].items() if r["Type"] == rtype}


def test_log_retention_is_a_parameter_with_cloudwatchs_allowed_values(translated):
    param = translated.cfn["Parameters"]["LogRetentionDays"]
    assert param["Default"] == 30
    assert param["AllowedValues"] == [
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
        1096, 1827, 2192, 2557, 2922, 3288, 3653,
    ]  # fmt: skip


def test_every_function_logs_to_a_group_of_the_stack_with_the_retention_parameter(translated):
    groups = _of_type(translated, "AWS::Logs::LogGroup")
    for fn in _functions(translated):
        logging = _props(translated, fn)["LoggingConfig"]
        group = logging["LogGroup"]["Ref"]
        assert groups[group]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        # named by the stack, not /aws/lambda/<function name>, which Lambda may create first
        assert groups[group]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{fn}"}
    assert set(groups) == {f"{fn.removesuffix('Function')}LogGroup" for fn in _functions(translated)} | {
        "JobsApiAccessLogGroup"
    }


def test_api_access_logs_are_json_lines_with_the_request_and_the_tenant(translated):
    import json

    (stage,) = _of_type(translated, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["AccessLogSettings"]
    assert "JobsApiAccessLogGroup" in json.dumps(settings["DestinationArn"])
    assert _props(translated, "JobsApiAccessLogGroup")["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(settings["Format"])  # one JSON object a line
    assert fields == {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "tenant": "$context.authorizer.tenant_id",
    }


def test_the_tenant_logged_is_the_key_the_authorizer_puts_in_its_context(harness):
    from devstack.lambda_runtime import LambdaContext
    from tests.support import load_event

    # Given the sample authorizer request with a real key of acme's
    event = load_event("authorizer.json")
    event["headers"]["authorization"] = f"Bearer {harness.keys['acme']}"
    event["identitySource"] = [event["headers"]["authorization"]]
    # When the authorizer allows it, then its context has the tenant_id the access log names
    answer = harness.handlers["AuthorizerFunction"](event, LambdaContext("authorizer", 256, 5))
    assert answer["isAuthorized"] is True
    assert answer["context"]["tenant_id"] == "acme"


def test_haven_routes_are_served_by_the_same_api_so_share_its_access_log(translated):
    apis = {
        e["Properties"]["ApiId"]["Ref"]
        for r in translated.sam["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
        for e in (r["Properties"].get("Events") or {}).values()
        if e["Type"] == "HttpApi"
    }
    assert apis == {"JobsApi"}


_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_ok(translated):
    alarms = _of_type(translated, "AWS::CloudWatch::Alarm")
    # per function Errors and Throttles; per jobs/webhook queue its dead-letter and age alarms; exhaustion
    assert len(alarms) == 2 * len(_functions(translated)) + 7
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == _ACTIONS, name
        assert alarm["OKActions"] == _ACTIONS, name
        assert alarm["TreatMissingData"] == "notBreaching", name


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(translated, metric):
    alarmed = {
        a["Dimensions"][0]["Value"]["Ref"]
        for a in _of_type(translated, "AWS::CloudWatch::Alarm").values()
        if a.get("Namespace") == "AWS/Lambda" and a["MetricName"] == metric
    }
    assert alarmed == set(_functions(translated))


@pytest.mark.parametrize(
    ("queue", "function"),
    [
        ("JobsQueue", "ExecutorFunction"),
        ("ScienceJobsQueue", "ScienceExecutorFunction"),
        ("WebhookQueue", None),
    ],
)
def test_queue_age_alarms_wait_out_a_visibility_timeout(translated, queue, function):
    (alarm,) = [
        a
        for a in _of_type(translated, "AWS::CloudWatch::Alarm").values()
        if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
        and a["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}
    ]
    visibility = _props(translated, queue)["VisibilityTimeout"]
    # a message retried once waits one visibility timeout by design: that alone does not alarm
    assert alarm["Threshold"] >= visibility
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    if function:  # ... and the executor's is 6 x its Timeout: a backlog of 6 job runs' length
        assert visibility == 6 * _props(translated, function)["Timeout"]


def test_webhook_exhaustion_is_alarmed_on_the_metric_the_delivery_code_emits(translated):
    from asyncjobs.observability import NAMESPACE, SERVICE

    alarm = _props(translated, "WebhookDeliveriesExhaustedAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, "WebhookDeliveriesExhausted")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
