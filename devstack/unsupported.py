"""What a template declares that the local stack does not run: triggers (event sources, schedules,
function URLs, REST APIs), trigger settings it ignores, and authorizers it cannot check.

Each is one line naming the resource, the event and why, printed at start-up, so a function that
never fires locally is never a mystery. Resources that trigger nothing (log groups, alarms, IAM
roles, topics without function subscribers) are not listed: they change nothing locally.
"""

from __future__ import annotations

from typing import Any

from devstack.template import Translated

# Event types of AWS::Serverless::Function the local stack runs.
RUN_LOCALLY = ("HttpApi", "SQS", "EventBridgeRule", "CloudWatchEvent")

_WHY = {
    "Schedule": "schedules do not fire locally (invoke the function yourself)",
    "ScheduleV2": "schedules do not fire locally (invoke the function yourself)",
    "S3": "S3 notifications are not delivered locally",
    "DynamoDB": "stream event sources are not polled locally",
    "Kinesis": "stream event sources are not polled locally",
    "SNS": "SNS subscriptions are not delivered locally",
    "Api": "REST APIs (Type: Api) are not served locally; HttpApi routes are",
}

_NO_FILTER = "FilterCriteria is not applied locally: every message reaches the function"

# Settings of an SQS event source the local stack does not apply: it polls every queue with its own
# number of pollers (--concurrency, 4) and hands each batch over as soon as it is received.
_SQS_IGNORED = {
    "MaximumConcurrency": "ScalingConfig.MaximumConcurrency ({}) is not applied locally: the queue "
    "is polled by as many invocations at once as the stack's --concurrency",
    "MaximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds ({}) is not applied locally: "
    "a batch is handed over as soon as it is received",
}

# Settings of a function the local stack does not apply.
_FUNCTION_IGNORED = {
    "ReservedConcurrentExecutions": "ReservedConcurrentExecutions ({}) is not applied locally: the "
    "function runs as many invocations at once as the stack's --concurrency",
    "ProvisionedConcurrencyConfig": "ProvisionedConcurrencyConfig is not applied locally: execution "
    "environments start on demand",
}

# EventBridge pattern operators moto 5.2 matches (devstack relies on moto for rule matching).
_PATTERN_OPERATORS = {
    "exists",
    "prefix",
    "suffix",
    "equals-ignore-case",
    "numeric",
    "anything-but",
    "cidr",
    "wildcard",
}


def unsupported(translated: Translated) -> list[str]:
    resources: dict[str, Any] = translated.sam.get("Resources") or {}
    globals_ = (translated.sam.get("Globals") or {}).get("Function") or {}
    out: list[str] = [
        f"Globals.Function: {why.format(globals_[key])}"
        for key, why in _FUNCTION_IGNORED.items()
        if globals_.get(key) is not None
    ]
    for logical_id, res in resources.items():
        rtype = res.get("Type")
        props = res.get("Properties") or {}
        if rtype == "AWS::Serverless::Function":
            out += _function(logical_id, props)
        elif rtype == "AWS::Serverless::HttpApi":
            out += _http_api(logical_id, props)
        elif rtype == "AWS::Lambda::EventSourceMapping":
            source = _source_kind(props.get("EventSourceArn"), resources)
            if source != "sqs":
                out.append(f"{logical_id}: event source {source} is not polled locally (only SQS queues are)")
            else:
                if props.get("FilterCriteria"):
                    out.append(f"{logical_id}: {_NO_FILTER}")
                out += [f"{logical_id}: {why}" for why in _sqs_settings(props)]
        elif rtype == "AWS::Events::Rule":
            out += _rule(logical_id, props)
        elif rtype == "AWS::Lambda::Url":
            out.append(f"{logical_id}: function URLs are not served locally")
        elif rtype == "AWS::SNS::Subscription" and str(props.get("Protocol", "")).lower() == "lambda":
            out.append(f"{logical_id}: SNS subscriptions are not delivered locally")
        elif rtype == "AWS::SNS::Topic" and any(
            str(s.get("Protocol", "")).lower() == "lambda" for s in props.get("Subscription") or []
        ):
            out.append(f"{logical_id}: its Lambda subscriptions are not delivered locally")
        elif rtype == "AWS::S3::Bucket" and (props.get("NotificationConfiguration") or {}).get(
            "LambdaConfigurations"
        ):
            out.append(f"{logical_id}: S3 notifications to functions are not delivered locally")
        elif rtype == "AWS::Lambda::EventInvokeConfig":
            out += _destinations(logical_id, props.get("DestinationConfig") or {})
        elif rtype == "AWS::Lambda::Function":
            out += [f"{logical_id}: {why}" for why in _function_settings(props)]
    return out


def _sqs_settings(props: dict[str, Any]) -> list[str]:
    """The SQS event source settings of `props` (SAM event or EventSourceMapping) not applied."""
    values = {
        "MaximumConcurrency": (props.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        "MaximumBatchingWindowInSeconds": props.get("MaximumBatchingWindowInSeconds"),
    }
    return [_SQS_IGNORED[key].format(value) for key, value in values.items() if value is not None]


def _function_settings(props: dict[str, Any]) -> list[str]:
    return [why.format(props[key]) for key, why in _FUNCTION_IGNORED.items() if props.get(key) is not None]


def _function(name: str, props: dict[str, Any]) -> list[str]:
    out = []
    for event_name, event in (props.get("Events") or {}).items():
        etype = event.get("Type")
        eprops = event.get("Properties") or {}
        label = f"{name}: event {event_name} ({etype})"
        if etype not in RUN_LOCALLY:
            out.append(f"{label} is not run locally: {_WHY.get(etype, 'this event type is not emulated')}")
        elif etype == "HttpApi" and str(eprops.get("PayloadFormatVersion", "2.0")) != "2.0":
            out.append(f"{label}: payload format {eprops['PayloadFormatVersion']} is sent as 2.0 locally")
        elif etype == "SQS":
            if eprops.get("FilterCriteria"):
                out.append(f"{label}: {_NO_FILTER}")
            out += [f"{label}: {why}" for why in _sqs_settings(eprops)]
        elif etype in ("EventBridgeRule", "CloudWatchEvent"):
            out += [f"{label}: {why}" for why in _pattern(eprops.get("Pattern"))]
            target = eprops.get("Target") or {}
            if "InputTransformer" in eprops or "InputTransformer" in target:
                out.append(f"{label}: InputTransformer is not applied locally: the function gets the event")
            for key in ("RetryPolicy", "DeadLetterConfig"):
                if key in eprops:
                    out.append(f"{label}: the rule's {key} is not applied locally (EventInvokeConfig is)")
    out += [f"{name}: {why}" for why in _function_settings(props)]
    if props.get("DeadLetterQueue"):
        out.append(
            f"{name}: its DeadLetterQueue (failed asynchronous invocations) is not sent locally "
            "(an EventInvokeConfig OnFailure SQS destination is)"
        )
    if props.get("FunctionUrlConfig"):
        out.append(f"{name}: its function URL (FunctionUrlConfig) is not served locally")
    out += _destinations(name, (props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {})
    return out


def _destinations(name: str, config: dict[str, Any]) -> list[str]:
    out = []
    if config.get("OnSuccess"):
        out.append(f"{name}: the OnSuccess destination of asynchronous invocations is not sent locally")
    on_failure = config.get("OnFailure") or {}
    kind = str(on_failure.get("Type") or _arn_service(on_failure.get("Destination")) or "SQS").upper()
    if on_failure and kind != "SQS":
        out.append(f"{name}: the OnFailure destination ({kind}) is not sent locally (only SQS is)")
    return out


def _http_api(name: str, props: dict[str, Any]) -> list[str]:
    out = []
    for auth_name, spec in ((props.get("Auth") or {}).get("Authorizers") or {}).items():
        function_arn = spec.get("FunctionArn")
        if spec.get("JwtConfiguration") or not _is_template_function(function_arn):
            out.append(
                f"{name}: authorizer {auth_name} is not a Lambda function of the template (a JWT "
                "authorizer?): its routes are served WITHOUT authorization locally"
            )
        elif not spec.get("EnableSimpleResponses", False):
            out.append(
                f"{name}: authorizer {auth_name} answers IAM policies (EnableSimpleResponses false), "
                "which the local stack does not read: its routes answer 500 locally"
            )
    return out


def _rule(name: str, props: dict[str, Any]) -> list[str]:
    if "EventPattern" not in props:
        what = props.get("ScheduleExpression", "no event pattern")
        return [f"{name}: rule ({what}) does not fire locally (only event-pattern rules do)"]
    out = [f"{name}: {why}" for why in _pattern(props["EventPattern"])]
    for target in props.get("Targets") or []:
        if "InputTransformer" in target:
            out.append(f"{name}: target {target.get('Id')}: InputTransformer is not applied locally")
    return out


def _pattern(pattern: Any) -> list[str]:
    """Operators of an event pattern that moto does not match (they would never match locally)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$or":
                    for alternative in value:
                        walk(alternative)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, dict):
                    found.update(k for k in item if k not in _PATTERN_OPERATORS)
                    for value in item.values():
                        if isinstance(value, dict):  # anything-but: {prefix: ...}
                            found.update(k for k in value if k not in _PATTERN_OPERATORS)

    if isinstance(pattern, dict):
        walk(pattern)
    return [f"pattern operator {op!r} is not matched locally" for op in sorted(found)]


def _is_template_function(value: Any) -> bool:
    """`!GetAtt X.Arn` or `!Ref`/`!Sub` of a template resource, not a literal ARN."""
    return isinstance(value, dict) and any(k in value for k in ("Ref", "Fn::GetAtt", "Fn::Sub"))


def _source_kind(value: Any, resources: dict[str, Any]) -> str:
    if isinstance(value, str):
        return "sqs" if value.startswith("arn:aws:sqs:") else _arn_service(value) or value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        logical_id, attribute = target if isinstance(target, list) else target.split(".", 1)
        rtype = (resources.get(logical_id) or {}).get("Type", "")
        if rtype == "AWS::SQS::Queue" and attribute == "Arn":
            return "sqs"
        return f"{logical_id}.{attribute}"
    return "sqs"  # a Sub or Join we cannot read: provisioning decides by its resolved ARN


def _arn_service(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("arn:"):
        return value.split(":")[2]
    return None
