"""Creates a translated template's resources in moto and describes its functions and triggers.

Only what the template declares is created, with the properties it gives: tables (with their TTL
and indexes), queues (with their redrive policies), event buses and buckets. Functions, their
event-source mappings and routes are described (not created in moto, whose Lambda would need
Docker) so a local runner can dispatch to the handlers in-process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.template import Translated

ACCOUNT = "123456789012"
_PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class _Pending(Exception):
    """A referenced resource does not exist yet."""


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    layer_dirs: list[Path]
    environment: dict[str, str]
    timeout: int
    memory: int
    async_retries: int = 2
    """Retries of a failed asynchronous invocation (EventInvokeConfig MaximumRetryAttempts)."""
    on_failure_queue_url: str | None = None
    """Where a failed asynchronous invocation's record goes (EventInvokeConfig OnFailure, SQS)."""


@dataclass
class QueueTrigger:
    function: str
    queue_arn: str
    queue_url: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool = True


@dataclass
class RuleTrigger:
    """An EventBridge rule whose target is a function: locally the rule targets a tap queue that
    the runner drains into the function (moto delivers rules to SQS targets, not to Lambda)."""

    function: str
    rule: str
    queue_url: str
    queue_arn: str
    input: str | None = None
    input_path: str | None = None


@dataclass
class Stack:
    name: str
    region: str
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    """logical id → {"Type", "Ref", attribute: value}"""
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    queue_triggers: list[QueueTrigger] = field(default_factory=list)
    rule_triggers: list[RuleTrigger] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def ref(self, logical_id: str) -> Any:
        return self.resources[logical_id]["Ref"]


class _Resolver:
    def __init__(self, stack: Stack, cfn: dict[str, Any], parameters: dict[str, str]) -> None:
        self.stack = stack
        self.cfn = cfn
        self.params: dict[str, Any] = {}
        for name, spec in (cfn.get("Parameters") or {}).items():
            value = parameters.get(name, spec.get("Default"))
            if value is None:
                raise ValueError(f"template parameter {name} has no default; pass a value")
            self.params[name] = str(value)
        self.params.update(_PSEUDO)
        self.params["AWS::Region"] = stack.region
        self.params["AWS::StackName"] = stack.name
        self.params["AWS::StackId"] = (
            f"arn:aws:cloudformation:{stack.region}:{ACCOUNT}:stack/{stack.name}/local"
        )
        self.conditions = {name: self.condition(expr) for name, expr in (cfn.get("Conditions") or {}).items()}

    def condition(self, expr: Any) -> bool:
        if isinstance(expr, dict) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Fn::Equals":
                return bool(self.resolve(arg[0]) == self.resolve(arg[1]))
            if fn == "Fn::Not":
                return not self.condition(arg[0])
            if fn == "Fn::And":
                return all(self.condition(a) for a in arg)
            if fn == "Fn::Or":
                return any(self.condition(a) for a in arg)
            if fn == "Condition":
                return self.conditions[arg]
        raise ValueError(f"unsupported condition {expr!r}")

    def _lookup(self, logical_id: str, attribute: str | None) -> Any:
        if attribute is None and logical_id in self.params:
            return self.params[logical_id]
        if logical_id not in self.stack.resources:
            if logical_id not in self.cfn["Resources"]:
                raise ValueError(f"reference to unknown resource or parameter {logical_id}")
            raise _Pending(logical_id)
        res = self.stack.resources[logical_id]
        key = "Ref" if attribute is None else attribute
        if key not in res and res.get("Emulated") is False:
            # A resource the local stack does not build (a log group, an alarm, a topic): any of
            # its attributes resolves to a placeholder, so a template that references one starts.
            return f"arn:aws:local:{self.stack.region}:{ACCOUNT}:{logical_id}/{key}"
        if key not in res:
            raise ValueError(f"{logical_id} ({res['Type']}) has no attribute {key} locally")
        return res[key]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self._lookup(arg, None)
            if fn == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._lookup(logical_id, attribute)
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self._sub(text, variables)
            if fn == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if fn == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if fn == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if fn == "Fn::If":
                return self.resolve(arg[1] if self.conditions[arg[0]] else arg[2])
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        out, i = [], 0
        while (start := text.find("${", i)) != -1:
            end = text.index("}", start)
            out.append(text[i:start])
            name = text[start + 2 : end]
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif name in variables:
                out.append(str(variables[name]))
            elif "." in name and name.split(".", 1)[0] not in self.params:
                logical_id, attribute = name.split(".", 1)
                out.append(str(self._lookup(logical_id, attribute)))
            else:
                out.append(str(self._lookup(name, None)))
            i = end + 1
        out.append(text[i:])
        return "".join(out)


class _Creator:
    def __init__(self, session: Any, endpoint_url: str | None, stack: Stack, translated: Translated) -> None:
        kw = {"region_name": stack.region}
        if endpoint_url:
            kw["endpoint_url"] = endpoint_url
        self.ddb = session.client("dynamodb", **kw)
        self.sqs = session.client("sqs", **kw)
        self.events = session.client("events", **kw)
        self.s3 = session.client("s3", **kw)
        self.stack = stack
        self.translated = translated

    def physical_name(self, logical_id: str, props: dict[str, Any], key: str) -> str:
        return str(props.get(key) or f"{self.stack.name}-{logical_id}")

    def create(self, logical_id: str, rtype: str, props: dict[str, Any]) -> dict[str, Any]:
        region, stack = self.stack.region, self.stack
        if rtype == "AWS::DynamoDB::Table":
            return self._table(logical_id, props)
        if rtype == "AWS::SQS::Queue":
            name = self.physical_name(logical_id, props, "QueueName")
            attrs = {
                k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in props.items()
                if k not in ("QueueName", "Tags")
            }
            url = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
            arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
            return {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
        if rtype == "AWS::Events::EventBus":
            name = self.physical_name(logical_id, props, "Name")
            arn = self.events.create_event_bus(Name=name)["EventBusArn"]
            return {"Ref": name, "Arn": arn, "Name": name}
        if rtype == "AWS::S3::Bucket":
            name = self.physical_name(logical_id, props, "BucketName").lower()
            self.s3.create_bucket(Bucket=name)
            if "LifecycleConfiguration" in props:
                rules = [
                    {
                        "ID": r.get("Id", "rule"),
                        "Status": r["Status"],
                        "Filter": {"Prefix": ""},
                        "Expiration": {"Days": int(r["ExpirationInDays"])},
                    }
                    for r in props["LifecycleConfiguration"]["Rules"]
                    if "ExpirationInDays" in r
                ]
                if rules:
                    self.s3.put_bucket_lifecycle_configuration(
                        Bucket=name, LifecycleConfiguration={"Rules": rules}
                    )
            return {"Ref": name, "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
        if rtype == "AWS::Lambda::LayerVersion":
            arn = f"arn:aws:lambda:{region}:{ACCOUNT}:layer:{logical_id}:1"
            return {"Ref": arn, "CodeDir": self._code_dir(props["Content"]["S3Key"])}
        if rtype == "AWS::Lambda::Function":
            name = self.physical_name(logical_id, props, "FunctionName")
            layer_dirs = [self._layer_dir(arn) for arn in props.get("Layers", [])]
            stack.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=name,
                handler=props["Handler"],
                code_dir=self._code_dir(props["Code"]["S3Key"]),
                layer_dirs=layer_dirs,
                environment={
                    k: str(v) for k, v in (props.get("Environment") or {}).get("Variables", {}).items()
                },
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
            )
            return {"Ref": name, "Arn": self.function_arn(stack.functions[logical_id])}
        if rtype == "AWS::Lambda::EventSourceMapping":
            source = props["EventSourceArn"]
            if source.startswith("arn:aws:sqs:"):
                queue_name = source.rsplit(":", 1)[1]
                url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
                fn = next(f for f in stack.functions.values() if f.name == props["FunctionName"])
                stack.queue_triggers.append(
                    QueueTrigger(
                        function=fn.logical_id,
                        queue_arn=source,
                        queue_url=url,
                        batch_size=int(props.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (props.get("FunctionResponseTypes") or []),
                        enabled=bool(props.get("Enabled", True)),
                    )
                )
            return {"Ref": f"{logical_id}-local"}
        if rtype == "AWS::Lambda::EventInvokeConfig":
            fn = next(f for f in stack.functions.values() if f.name == props["FunctionName"])
            fn.async_retries = int(props.get("MaximumRetryAttempts", 2))
            dest = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination", "")
            if dest.startswith("arn:aws:sqs:"):
                fn.on_failure_queue_url = self.sqs.get_queue_url(QueueName=dest.rsplit(":", 1)[1])["QueueUrl"]
            return {"Ref": f"{logical_id}-local"}
        if rtype == "AWS::Events::Rule":
            return self._rule(logical_id, props)
        # IAM roles, permissions, alarms, API Gateway resources: nothing to emulate here.
        arn = f"arn:aws:local:{region}:{ACCOUNT}:{logical_id}"
        return {"Ref": logical_id, "Arn": arn, "Emulated": False}

    def _code_dir(self, s3_key: str) -> Path:
        return self.translated.code_paths[s3_key]

    def _layer_dir(self, arn: str) -> Path:
        for res in self.stack.resources.values():
            if res.get("Ref") == arn and "CodeDir" in res:
                return Path(res["CodeDir"])
        raise ValueError(f"layer {arn} is not defined in the template; local runs need its code")

    def _rule(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        stack = self.stack
        name = self.physical_name(logical_id, props, "Name")
        bus = str(props.get("EventBusName", "default")).rsplit("/", 1)[-1]
        if "EventPattern" not in props:  # a schedule: not run locally (devstack.unsupported says so)
            return {"Ref": name, "Arn": f"arn:aws:events:{stack.region}:{ACCOUNT}:rule/{bus}/{name}"}
        pattern = props["EventPattern"]
        self.events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
            State=props.get("State", "ENABLED"),
        )
        targets = []
        for target in props.get("Targets", []):
            fn = next((f for f in stack.functions.values() if self.function_arn(f) == target["Arn"]), None)
            if fn is None:
                targets.append(target)  # SQS and other targets moto delivers itself
                continue
            queue = f"{stack.name}-{logical_id}-{target['Id']}-tap"[:80]
            url = self.sqs.create_queue(QueueName=queue)["QueueUrl"]
            arn = f"arn:aws:sqs:{stack.region}:{ACCOUNT}:{queue}"
            targets.append({"Id": target["Id"], "Arn": arn})
            stack.rule_triggers.append(
                RuleTrigger(fn.logical_id, name, url, arn, target.get("Input"), target.get("InputPath"))
            )
        if targets:
            self.events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return {"Ref": name, "Arn": f"arn:aws:events:{stack.region}:{ACCOUNT}:rule/{bus}/{name}"}

    def function_arn(self, fn: FunctionSpec) -> str:
        return f"arn:aws:lambda:{self.stack.region}:{ACCOUNT}:function:{fn.name}"

    def _table(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        name = self.physical_name(logical_id, props, "TableName")
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if kwargs["BillingMode"] == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = {k: int(v) for k, v in props["ProvisionedThroughput"].items()}
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        desc = self.ddb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            self.ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        return {"Ref": name, "Arn": desc["TableArn"], "StreamArn": desc.get("LatestStreamArn", "")}


def provision(
    translated: Translated,
    *,
    session: Any,
    stack_name: str = "asyncjobs-local",
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    parameters: dict[str, str] | None = None,
) -> Stack:
    """Creates every resource of the translated template in moto (in dependency order)."""
    cfn = translated.cfn
    stack = Stack(name=stack_name, region=region)
    resolver = _Resolver(stack, cfn, parameters or {})
    creator = _Creator(session, endpoint_url, stack, translated)
    pending = {
        lid: res
        for lid, res in cfn["Resources"].items()
        if "Condition" not in res or resolver.conditions[res["Condition"]]
    }
    while pending:
        progressed = False
        for logical_id, res in list(pending.items()):
            try:
                props = resolver.resolve(res.get("Properties") or {})
            except _Pending:
                continue
            stack.resources[logical_id] = {
                "Type": res["Type"],
                **creator.create(logical_id, res["Type"], props),
            }
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise ValueError(f"circular or unresolvable references among: {', '.join(sorted(pending))}")
    for name, out in (cfn.get("Outputs") or {}).items():
        stack.outputs[name] = resolver.resolve(out["Value"])
    return stack
