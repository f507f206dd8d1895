"""events/ holds a real-shaped sample for every trigger of every function in template.yaml (used by
`sam local invoke -e` and by tests), and each drives its function's handler in-process, against a
moto stack provisioned from the template, without an error or a 5xx.

`SAMPLES` is the reviewed table: a trigger added to the template fails
`test_every_trigger_of_every_function_has_a_sample` until a sample for it is added here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.lambda_runtime import LambdaContext, json_body
from devstack.routes import http_routes, match_route
from tests.support import EVENTS, load_event

# (function, trigger) -> samples. A trigger is the function's event in the template, or for the
# authorizer, the HTTP API authorizer it serves.
SAMPLES: dict[tuple[str, str], list[str]] = {
    ("AuthorizerFunction", "ApiKeyAuthorizer"): ["authorizer.json"],
    ("RunFunction", "Run"): ["run.json", "run_multi.json", "cancel.json"],
    ("StatusFunction", "Read"): ["status.json", "jobs_list.json"],
    ("StatusFunction", "OpenApi"): ["status_openapi.json"],
    ("HavenFunction", "Haven"): ["haven.json", "haven_sync.json", "haven_job.json", "haven_status.json"],
    ("ExecutorFunction", "Jobs"): ["executor.json"],
    ("ScienceExecutorFunction", "Jobs"): ["science_executor.json"],
    ("ReconcilerFunction", "DeadLetters"): ["reconciler.json"],
    ("ReconcilerFunction", "ScienceDeadLetters"): ["reconciler_science.json"],
    ("WebhooksFunction", "Webhooks"): ["webhooks.json"],
    ("WebhooksFunction", "Webhook"): ["webhook_deliveries.json"],
    ("WebhookDeliveryFunction", "JobFinished"): ["webhook_delivery_event.json"],
    ("WebhookDeliveryFunction", "Attempts"): ["webhook_delivery_attempt.json"],
    ("WebhookDeliveryFunction", "DeadLetters"): ["webhook_delivery_dlq.json"],
}
NOT_SAMPLES = {"env.json"}  # `sam local invoke --env-vars`, checked by test_env_vars_file.py
# The API key the samples carry: not a stored key. Replaced by a real one where the handler checks
# it itself (the authorizer, Haven's `apikey`).
SAMPLE_KEY = "ajk_k2x7q9wd3m_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
# What a sample gets from a fresh stack (None: no HTTP answer; an SQS batch's failures must be []).
EXPECTED_STATUS = {
    "run.json": 202,
    "run_multi.json": 202,
    "cancel.json": 404,  # the sample's job does not exist in a fresh stack
    "status.json": 404,
    "jobs_list.json": 200,
    "status_openapi.json": 200,  # public: no key, no authorizer context
    "webhooks.json": 200,
    "webhook_deliveries.json": 404,  # nor does the sample's subscription
    "haven.json": 200,
    "haven_sync.json": 200,
    "haven_job.json": 200,
    "haven_status.json": 404,
}


def _triggers(translated) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for lid, res in translated.sam["Resources"].items():
        if res["Type"] == "AWS::Serverless::HttpApi":
            for name, auth in res["Properties"]["Auth"]["Authorizers"].items():
                fn = auth["FunctionArn"]["Fn::GetAtt"][0]
                found[(fn, name)] = {"Type": "Authorizer", "Properties": {"ApiId": lid}}
        if res["Type"] == "AWS::Serverless::Function":
            for name, event in (res["Properties"].get("Events") or {}).items():
                found[(lid, name)] = event
    return found


def _all_samples() -> list[tuple[str, str, str]]:
    return [(fn, trigger, sample) for (fn, trigger), samples in SAMPLES.items() for sample in samples]


def test_every_trigger_of_every_function_has_a_sample(translated):
    assert set(_triggers(translated)) == set(SAMPLES)
    functions = {
        lid for lid, r in translated.sam["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    assert {fn for fn, _ in SAMPLES} == functions


def test_every_file_in_events_is_a_listed_sample():
    listed = {sample for _, _, sample in _all_samples()}
    assert {p.name for p in EVENTS.glob("*.json")} - NOT_SAMPLES == listed


@pytest.mark.parametrize(("function", "trigger", "sample"), _all_samples())
def test_a_sample_has_the_shape_of_its_trigger(translated, function, trigger, sample):
    event = load_event(sample)
    spec = _triggers(translated)[(function, trigger)]
    props = spec["Properties"]
    if spec["Type"] in ("HttpApi", "Authorizer"):
        assert event["version"] == "2.0"
        method = event["requestContext"]["http"]["method"]
        # API Gateway routes it to this function, with these path parameters
        route, params = match_route(http_routes(translated), method, event["rawPath"])
        assert event["routeKey"] == event["requestContext"]["routeKey"] == route.route_key
        assert params == event.get("pathParameters", {})  # API Gateway omits it for a route without any
        if spec["Type"] == "Authorizer":
            assert event["type"] == "REQUEST"
            assert route.authorizer is not None and route.authorizer.function == function
        else:
            assert route.function == function
            assert route.route_key == f"{props['Method'].upper()} {props['Path']}"
    elif spec["Type"] == "SQS":
        queue = props["Queue"]["Fn::GetAtt"][0]
        (record,) = event["Records"]
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"].endswith(
            f"-{queue}"
        )  # asyncjobs-<logical id>, as CloudFormation names it
        json.loads(record["body"])
    elif spec["Type"] == "EventBridgeRule":
        pattern = props["Pattern"]
        assert event["source"] in pattern["source"]
        assert event["detail-type"] in pattern["detail-type"]
    else:
        raise AssertionError(f"no shape check for a {spec['Type']} trigger")


def _with_real_key(harness, event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(event).replace(SAMPLE_KEY, harness.keys["acme"]))


@pytest.mark.parametrize(("function", "trigger", "sample"), _all_samples())
def test_a_sample_drives_its_function(harness, function, trigger, sample):
    # Given the sample (with a real key of acme's), and for a job message the job it names
    event = _with_real_key(harness, load_event(sample))
    if sample in ("executor.json", "reconciler.json", "science_executor.json", "reconciler_science.json"):
        harness.submit_item(json.loads(event["Records"][0]["body"])["job_id"], {"steps": 1})
    fn = harness.stack.functions[function]
    context = LambdaContext(fn.name, fn.memory, fn.timeout)

    # When its function gets it (Haven's sync call with the executor running, as on AWS)
    if sample == "haven_sync.json":
        with harness.executor_running():
            answer = harness.handlers[function](event, context)
    else:
        answer = harness.handlers[function](event, context)

    # Then it answers as the trigger expects, without an error
    if function == "AuthorizerFunction":
        assert answer == {
            "isAuthorized": True,
            "context": {"tenant_id": "acme", "key_id": answer["context"]["key_id"]},
        }
    elif "Records" in event:
        assert answer == {"batchItemFailures": []}
    elif "detail-type" in event:
        assert answer is None
    else:
        assert answer["statusCode"] == EXPECTED_STATUS[sample], json_body(answer)
