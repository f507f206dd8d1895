"""Least privilege: each function's role grants exactly the AWS calls its code makes, on its own
resources, and those grants suffice for every flow the API serves.

`EXPECTED` is the reviewed table of grants. A function added to the template fails
`test_every_function_is_granted_exactly_its_expected_calls` until its row is added here.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import requests

from asyncjobs.actions.registry import ACTIONS
from asyncjobs.aws import clients as aws
from asyncjobs.jobs.queue import message_body
from devstack.provision import ACCOUNT, Stack, _Resolver
from devstack.template import Translated
from tests.integration.test_run_and_status import PROPOSAL
from tests.receiver import Answer, Receiver, closed_port_url
from tests.support import PARAMETERS

BASIC = "AWSLambdaBasicExecutionRole"  # CloudWatch Logs only
SQS_SOURCE = "AWSLambdaSQSQueueExecutionRole"  # added by SAM for an SQS event source

# function -> IAM action -> resources, named by logical id (a table's indexes as
# `Table/index/Name`, a bucket's objects as `Bucket/prefix/*`).
EXPECTED: dict[str, dict[str, set[str]]] = {
    "AuthorizerFunction": {
        "dynamodb:GetItem": {"TenantsTable"},
    },
    "RunFunction": {
        "dynamodb:GetItem": {"JobsTable", "IdempotencyTable"},
        "dynamodb:PutItem": {"JobsTable", "IdempotencyTable"},
        "dynamodb:UpdateItem": {"JobsTable", "IdempotencyTable"},
        "dynamodb:Query": {"JobsTable"},  # a multi-action job with its actions (cancel, wait)
        "dynamodb:DeleteItem": {"IdempotencyTable"},  # Powertools drops a failed request's record
        "sqs:SendMessage": {"JobsQueue", "ScienceJobsQueue"},  # each action's profile's queue
        # inputs too large for the job's item; upload forms (presigned POST) and form uploads
        "s3:PutObject": {"ResultsBucket/inputs/*", "ResultsBucket/uploads/*"},
        # HeadObject: does each file a job names exist; download URLs of a sync (Prefer: wait) answer
        "s3:GetObject": {"ResultsBucket/uploads/*", "ResultsBucket/results/*"},
    },
    "StatusFunction": {
        "dynamodb:GetItem": {"JobsTable"},
        "dynamodb:Query": {"JobsTable", "JobsTable/index/ByAction"},
        "dynamodb:BatchGetItem": {"JobsTable"},  # a page listed by action: the index has keys only
        # what its presigned download URLs do; HeadObject of an uploaded file (GET .../files/{id})
        "s3:GetObject": {"ResultsBucket/results/*", "ResultsBucket/uploads/*"},
    },
    "ExecutorFunction": {
        "dynamodb:GetItem": {"JobsTable"},
        "dynamodb:UpdateItem": {"JobsTable"},
        "events:PutEvents": {"JobsEventBus"},
        "s3:PutObject": {"ResultsBucket/results/*"},
        # uploads: ctx.read_file; results: a checkpoint kept as a file
        "s3:GetObject": {"ResultsBucket/inputs/*", "ResultsBucket/uploads/*", "ResultsBucket/results/*"},
        "sqs:ChangeMessageVisibility": {"JobsQueue"},  # a message that arrived before its job
        "sqs:SendMessage": {"JobsQueue"},  # a continuation's message
    },
    "ScienceExecutorFunction": {  # the same code, fed by the science profile's queue
        "dynamodb:GetItem": {"JobsTable"},
        "dynamodb:UpdateItem": {"JobsTable"},
        "events:PutEvents": {"JobsEventBus"},
        "s3:PutObject": {"ResultsBucket/results/*"},
        # uploads: ctx.read_file; results: a checkpoint kept as a file
        "s3:GetObject": {"ResultsBucket/inputs/*", "ResultsBucket/uploads/*", "ResultsBucket/results/*"},
        "sqs:ChangeMessageVisibility": {"ScienceJobsQueue"},  # its own queue only
        "sqs:SendMessage": {"ScienceJobsQueue"},  # a continuation's message, to its own queue only
    },
    "ReconcilerFunction": {
        "dynamodb:GetItem": {"JobsTable"},
        "dynamodb:UpdateItem": {"JobsTable"},
        "events:PutEvents": {"JobsEventBus"},
        # a continuation's message, again (a superseded message), to the job's profile's queue
        "sqs:SendMessage": {"JobsQueue", "ScienceJobsQueue"},
    },
    "WebhooksFunction": {
        "dynamodb:GetItem": {"WebhooksTable"},
        "dynamodb:PutItem": {"WebhooksTable"},
        "dynamodb:UpdateItem": {"WebhooksTable"},
        "dynamodb:Query": {"WebhooksTable"},
        "dynamodb:DeleteItem": {"WebhooksTable"},  # DELETE .../webhooks/{id}
        "sqs:SendMessage": {"WebhookQueue"},
    },
    "WebhookDeliveryFunction": {
        "dynamodb:GetItem": {"WebhooksTable"},
        "dynamodb:PutItem": {"WebhooksTable"},
        "dynamodb:UpdateItem": {"WebhooksTable"},
        "dynamodb:Query": {"WebhooksTable"},
        "sqs:SendMessage": {"WebhookQueue", "WebhookDLQ"},  # WebhookDLQ: EventInvokeConfig OnFailure
    },
    "HavenFunction": {
        "dynamodb:GetItem": {"JobsTable", "IdempotencyTable", "TenantsTable"},  # TenantsTable: `apikey`
        "dynamodb:PutItem": {"JobsTable", "IdempotencyTable"},
        "dynamodb:UpdateItem": {"IdempotencyTable"},
        "dynamodb:DeleteItem": {"IdempotencyTable"},  # Powertools drops a failed request's record
        "dynamodb:Query": {"JobsTable"},  # a job with its actions
        "sqs:SendMessage": {"JobsQueue", "ScienceJobsQueue"},  # each action's profile's queue
        # inputs too large for the job's item, and files sent in multipart forms
        "s3:PutObject": {"ResultsBucket/inputs/*", "ResultsBucket/uploads/*"},
        # presigned download URLs of results; HeadObject on the files a job names
        "s3:GetObject": {"ResultsBucket/results/*", "ResultsBucket/uploads/*"},
    },
}
EXPECTED_MANAGED: dict[str, set[str]] = {
    "AuthorizerFunction": {BASIC},
    "RunFunction": {BASIC},
    "StatusFunction": {BASIC},
    "ExecutorFunction": {BASIC, SQS_SOURCE},
    "ScienceExecutorFunction": {BASIC, SQS_SOURCE},
    "ReconcilerFunction": {BASIC, SQS_SOURCE},
    "WebhooksFunction": {BASIC},
    "WebhookDeliveryFunction": {BASIC, SQS_SOURCE},
    "HavenFunction": {BASIC},
}
# Grants the flows below cannot exercise, and why.
NOT_CALLED_BY_THE_CODE = {
    ("WebhookDeliveryFunction", "sqs:SendMessage", "WebhookDLQ"): "Lambda itself sends failed "
    "asynchronous invocations there, with the function's role",
    ("RunFunction", "dynamodb:GetItem", "IdempotencyTable"): "Powertools reads the record only when "
    "the failed conditional PutItem does not return it (ReturnValuesOnConditionCheckFailure, boto3 "
    ">= 1.26.164); kept for that fallback",
    ("HavenFunction", "dynamodb:GetItem", "IdempotencyTable"): "as for RunFunction",
}
DELETE_ALLOWED = {
    ("RunFunction", "IdempotencyTable"),
    ("HavenFunction", "IdempotencyTable"),
    ("WebhooksFunction", "WebhooksTable"),
}
FORBIDDEN = {"dynamodb:Scan", "dynamodb:BatchWriteItem", "s3:PutLifecycleConfiguration", "s3:PutObjectAcl"}


# -- reading the roles out of the translated template ----------------------------------------


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _functions(translated: Translated) -> dict[str, dict[str, Any]]:
    resources = translated.cfn["Resources"]
    return {lid: res for lid, res in resources.items() if res["Type"] == "AWS::Lambda::Function"}


def _role(translated: Translated, function: str) -> dict[str, Any]:
    role_ref = _functions(translated)[function]["Properties"]["Role"]
    assert isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref, (
        f"{function}: Role {role_ref!r} is not a role of this template; its grants cannot be checked"
    )
    role_id = _listed(role_ref["Fn::GetAtt"])[0].split(".")[0]
    role = translated.cfn["Resources"][role_id]
    assert role["Type"] == "AWS::IAM::Role"
    return role["Properties"]


def _label_resolver(translated: Translated) -> _Resolver:
    """Resolves intrinsics with every resource's name and ARN attributes set to its logical id."""
    stack = Stack(name="iam", region="us-east-1")
    for lid, res in translated.cfn["Resources"].items():
        stack.resources[lid] = {
            "Type": res["Type"],
            **dict.fromkeys(("Ref", "Arn", "QueueName", "Name"), lid),
        }
    return _Resolver(stack, translated.cfn, PARAMETERS)


_ARN_PREFIX = re.compile(rf"^arn:aws:[a-z0-9-]+:(us-east-1)?:({ACCOUNT})?:(table/|event-bus/)?")


def _label(resource: str) -> str:
    """`arn:aws:dynamodb:...:table/JobsTable/index/X` -> `JobsTable/index/X`, `JobsQueue` as is."""
    return _ARN_PREFIX.sub("", resource)


def grant_rows(
    translated: Translated, function: str, stack: Stack | None = None
) -> list[tuple[str, str, str]]:
    """(IAM action, resource label, resource ARN in `stack`) for each grant of the function's
    inline policies; without a stack the ARN is the label."""
    labels = _label_resolver(translated)
    real = _Resolver(stack, translated.cfn, PARAMETERS) if stack else labels
    rows = []
    for policy in _role(translated, function).get("Policies") or []:
        where = f"{function} {policy['PolicyName']}"
        statements = _listed(policy["PolicyDocument"]["Statement"])
        for stmt in statements:
            assert stmt.get("Effect") == "Allow", f"{where}: only Allow statements are expected"
            assert "NotAction" not in stmt and "NotResource" not in stmt, f"{where}: NotAction/NotResource"
            assert "Condition" not in stmt, f"{where}: conditions are not modelled by this test"
            for action in _listed(stmt["Action"]):
                for resource in _listed(stmt["Resource"]):
                    label = _label(labels.resolve(resource))
                    rows.append((action, label, real.resolve(resource) if stack else label))
    return rows


def granted(translated: Translated, function: str) -> dict[str, set[str]]:
    """IAM action -> resources (labels) the function's inline policies allow."""
    out: dict[str, set[str]] = defaultdict(set)
    for action, label, _ in grant_rows(translated, function):
        out[action].add(label)
    return dict(out)


def _managed(translated: Translated, function: str) -> set[str]:
    arns = _role(translated, function).get("ManagedPolicyArns") or []
    return {str(arn).rsplit("/", 1)[-1] for arn in arns}


def _table(grants: dict[str, dict[str, set[str]]]) -> str:
    return json.dumps({f: {a: sorted(r) for a, r in sorted(g.items())} for f, g in grants.items()}, indent=2)


# -- the template ----------------------------------------------------------------------------


def test_every_function_is_granted_exactly_its_expected_calls(translated):
    functions = set(_functions(translated))
    missing = sorted(functions - set(EXPECTED))
    assert not missing, (
        f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in EXPECTED of "
        "tests/integration/test_iam.py: add a row with the calls its code makes, after checking what "
        f"the template grants now:\n{_table({f: granted(translated, f) for f in missing})}"
    )
    gone = sorted(set(EXPECTED) - functions)
    assert not gone, f"EXPECTED lists functions the template no longer has: {gone}"
    for function in sorted(functions):
        assert granted(translated, function) == EXPECTED[function], (
            f"{function}'s grants differ from EXPECTED:\n{_table({function: granted(translated, function)})}"
        )


def test_managed_policies_are_logging_and_the_sqs_event_source_only(translated):
    for function in sorted(_functions(translated)):
        expected = EXPECTED_MANAGED.get(function)
        assert expected is not None, f"{function} is not in EXPECTED_MANAGED of tests/integration/test_iam.py"
        assert _managed(translated, function) == expected, function


def test_no_function_may_scan_batch_write_or_change_the_bucket(translated):
    for function in sorted(_functions(translated)):
        grants = granted(translated, function)
        for action, resources in grants.items():
            assert action not in FORBIDDEN, f"{function} is granted {action}"
            assert not action.startswith("s3:PutBucket"), f"{function} is granted {action}"
            assert "*" not in action, f"{function} is granted the wildcard action {action}"
            for resource in resources:
                assert resource != "*" and not resource.endswith(":*"), f"{function}: {action} on {resource}"
                if "*" in resource:  # object keys under a prefix of a bucket of this template only
                    assert re.fullmatch(r"ResultsBucket/[a-z-]+/\*", resource), f"{function}: {resource}"
            if action == "dynamodb:DeleteItem":
                for table in resources:
                    assert (function, table) in DELETE_ALLOWED, f"{function} may DeleteItem on {table}"
        assert "s3:PutObject" not in grants or function in (
            "ExecutorFunction",
            "ScienceExecutorFunction",
            "RunFunction",
            "HavenFunction",
        ), function


def test_indexes_are_granted_only_where_a_function_queries_one(translated):
    for function in sorted(_functions(translated)):
        for action, resources in granted(translated, function).items():
            indexes = {r for r in resources if "/index/" in r}
            assert not indexes or action == "dynamodb:Query", f"{function}: {action} on {indexes}"


# -- the grants suffice: every call the handlers make is allowed ------------------------------

_IAM_ACTION = {  # boto3 operation -> IAM action, where the names differ
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}


def _resource(harness: Any, service: str, params: dict[str, Any]) -> list[str]:
    region = harness.stack.region
    if service == "dynamodb":
        if "RequestItems" in params:  # BatchGetItem: the tables are the keys of RequestItems
            return [f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{t}" for t in params["RequestItems"]]
        arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{params['TableName']}"
        return [f"{arn}/index/{params['IndexName']}" if "IndexName" in params else arn]
    if service == "sqs":
        return [f"arn:aws:sqs:{region}:{ACCOUNT}:{urlparse(params['QueueUrl']).path.rsplit('/', 1)[-1]}"]
    if service == "events":
        buses = {e.get("EventBusName", "default") for e in params["Entries"]}
        return [
            b if b.startswith("arn:") else f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{b}" for b in buses
        ]
    if service == "s3":
        return [
            f"arn:aws:s3:::{params['Bucket']}" + (f"/{unquote(params['Key'])}" if "Key" in params else "")
        ]
    raise AssertionError(f"no IAM resource mapping for {service}: extend _resource in test_iam.py")


@pytest.fixture
def recorded(harness, monkeypatch):
    """function -> {(IAM action, resource ARN)} for every AWS request a handler makes, presigned
    URLs included (they work only if the signing role may make the call)."""
    calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
    hooked: list[Any] = []
    original = aws.client

    def record(params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        function = harness.running()
        if function is None:
            return  # the test itself (or the harness) made the call
        if model.name == "CreateBucket" and (context or {}).get("is_presign_request"):
            return  # botocore builds a presigned POST's URL from CreateBucket: see `record_post`
        service = model.service_model.service_name
        action = f"{model.service_model.signing_name}:{model.name}"
        action = _IAM_ACTION.get(action, action)
        if action == "dynamodb:TransactWriteItems":  # authorised item by item, as each item's write
            for item in params["TransactItems"]:
                ((kind, spec),) = item.items()
                write = "dynamodb:ConditionCheckItem" if kind == "ConditionCheck" else f"dynamodb:{kind}Item"
                calls[function].update((write, r) for r in _resource(harness, service, spec))
            return
        for resource in _resource(harness, service, params):
            calls[function].add((action, resource))

    def record_post(request: Any, **_: Any) -> None:
        """A presigned POST (upload form) is signed as a PutObject of the form's key."""
        function = harness.running()
        fields = request.context.get("s3-presign-post-fields")
        if function is None or fields is None:
            return
        conditions = request.context["s3-presign-post-policy"]["conditions"]
        (bucket,) = [c["bucket"] for c in conditions if isinstance(c, dict) and "bucket" in c]
        calls[function].add(("s3:PutObject", f"arn:aws:s3:::{bucket}/{fields['key']}"))

    def client(service: str) -> Any:
        c = original(service)
        if not any(c is h for h in hooked):
            hooked.append(c)
            # Emitted for every API call and for every presigned URL, before validation.
            c.meta.events.register("before-parameter-build", record)
            c.meta.events.register("before-sign.s3.PutObject", record_post)
        return c

    client.cache_clear = original.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(aws, "client", client)
    aws.reset_clients()
    return calls


def _every_flow(harness: Any) -> None:
    """Submit, execute, status, list, cancel, files (results, upload forms and uploads), webhooks
    CRUD / rotate / ping / deliveries / redeliver / recover, fan-out and attempts (success, failure,
    410), authorizer, idempotency."""
    hooks = "/v2/tenants/acme/webhooks"

    def ok(reply: Any, status: int = 200) -> Any:
        assert reply.status == status, reply.body
        return reply.body

    assert harness.run("acme", "/diagnostic", {}, key="ajk_wrong").status == 401  # authorizer: unknown key
    with Receiver() as rx, Receiver([Answer(410)]) as gone:
        sub = ok(harness.request("POST", hooks, body={"url": rx.url, "events": ["job.succeeded"]}), 201)
        doomed = ok(harness.request("POST", hooks, body={"url": gone.url, "events": ["job.succeeded"]}), 201)
        dead = ok(
            harness.request("POST", hooks, body={"url": closed_port_url(), "events": ["job.cancelled"]}), 201
        )
        ok(harness.request("PATCH", f"{hooks}/{sub['id']}", body={"description": "iam"}))
        ok(harness.request("POST", f"{hooks}/{sub['id']}/rotate-secret", body={"overlap_seconds": 60}))
        ok(harness.request("POST", f"{hooks}/{sub['id']}/ping"), 202)
        ok(harness.request("GET", hooks))
        ok(harness.request("GET", f"{hooks}/{sub['id']}"))

        since = time.time() - 1
        job_id = harness.submit(body={"echo": {"n": 1}})
        headers = {"Idempotency-Key": "iam-1"}
        first = ok(harness.run("acme", "/diagnostic", {}, headers=headers), 202)
        replay = harness.run("acme", "/diagnostic", {}, headers=headers)
        assert replay.status == 202 and replay.body["job_id"] == first["job_id"]
        harness.fail_calls("sqs", "SendMessage", times=1, code="ServiceUnavailable")
        assert harness.run("acme", "/diagnostic", {}, headers={"Idempotency-Key": "iam-2"}).status == 503
        large = harness.submit(body={"steps": 1, "echo": {"blob": "x" * 70_000}})  # input stored in S3
        harness.sqs.send_message(  # a message whose job is not stored (yet): it comes back soon
            QueueUrl=harness.trigger.queue_url,
            MessageBody=json.dumps({"tenant_id": "acme", "job_id": "01a20000-0000-7000-8000-00000000000f"}),
        )
        pdf = ok(harness.run("acme", "/designs/d-1/proposal_pdf", PROPOSAL), 202)
        with harness.executor_running():  # sync mode answers with the result's download URLs
            sync_pdf = harness.run(
                "acme", "/designs/d-1/proposal_pdf", PROPOSAL, headers={"Prefer": "wait=10"}
            )
        assert ok(sync_pdf)["result"]["files"][0]["download_url"]
        cancelled = harness.submit()
        ok(harness.request("POST", f"/v2/tenants/acme/jobs/{cancelled}/cancel"))
        two = [
            {"name": "diagnostic", "params": {}},
            {"name": "diagnostic", "params": {"fail_with": "action_error"}},
        ]
        multi = ok(harness.request("POST", "/v2/tenants/acme/jobs", body={"actions": two}), 202)["job_id"]
        stopped = ok(harness.request("POST", "/v2/tenants/acme/jobs", body={"actions": two}), 202)["job_id"]
        assert ok(harness.request("POST", f"/v2/tenants/acme/jobs/{stopped}/cancel"))["status"] == "cancelled"
        harness.execute()
        running = harness.submit(body={"duration_seconds": 5, "steps": 50})
        worker = harness.execute_in_background()
        harness.wait_for(lambda: harness.status("acme", "/diagnostic", running).body["progress"] > 0)
        ok(harness.request("POST", f"/v2/tenants/acme/jobs/{running}/cancel"), 202)
        worker.join(timeout=10)
        harness.pump()

        assert ok(harness.status("acme", "/diagnostic", job_id))["status"] == "succeeded"
        assert ok(harness.status("acme", "/diagnostic", large))["status"] == "succeeded"
        stranded = harness.submit()  # its message dead-lettered unprocessed: the reconciler ends it
        harness.sqs.purge_queue(QueueUrl=harness.trigger.queue_url)
        harness.sqs.send_message(
            QueueUrl=harness.stack.ref("JobsDLQ"),
            MessageBody=json.dumps({"tenant_id": "acme", "job_id": stranded}),
        )
        harness.pump()
        assert ok(harness.status("acme", "/diagnostic", stranded))["status"] == "failed"
        _continuation_flow(harness)
        doc = ok(harness.status("acme", "/designs/d-1/proposal_pdf", pdf["job_id"]))
        assert doc["status"] == "succeeded" and doc["result"]["files"][0]["download_url"], doc
        ok(harness.request("GET", "/v2/tenants/acme/jobs"))
        upload = ok(harness.request("POST", "/v2/tenants/acme/files", body={"name": "n.txt"}), 201)
        form = upload["upload"]
        sent = requests.post(form["url"], data=form["fields"], files={"file": ("n.txt", b"x")}, timeout=10)
        assert sent.status_code == 204, sent.text
        assert ok(harness.request("GET", f"/v2/tenants/acme/files/{upload['file_id']}"))["size_bytes"] == 1
        ok(harness.request("GET", "/v2/tenants/acme/jobs", query={"action": "diagnostic", "limit": "1"}))
        assert ok(harness.request("GET", f"/v2/tenants/acme/jobs/{multi}"))["status"] == "failed"
        waited = harness.request("GET", f"/v2/tenants/acme/jobs/{job_id}", headers={"Prefer": "wait=1"})
        assert ok(waited)["status"] == "succeeded"
        assert any(r.body for r in rx.received) and gone.received
        deliveries = ok(harness.request("GET", f"{hooks}/{sub['id']}/deliveries"))["deliveries"]
        one = deliveries[0]["id"]
        ok(harness.request("GET", f"{hooks}/{sub['id']}/deliveries/{one}"))
        ok(harness.request("POST", f"{hooks}/{sub['id']}/deliveries/{one}/redeliver"), 202)
        assert ok(harness.request("GET", f"{hooks}/{doomed['id']}"))["enabled"] is False
        recovered = harness.request(
            "POST",
            f"{hooks}/{dead['id']}/recover",
            body={"since": datetime.fromtimestamp(since, UTC).isoformat()},
        )
        assert ok(recovered, 202)["requeued"] >= 1
        harness.pump()
        assert harness.request("DELETE", f"{hooks}/{sub['id']}").status == 204
    _haven_flow(harness)


def _continuation_flow(
    harness: Any, executor: str = "ExecutorFunction", queue: str = "JobsQueue", dlq: str = "JobsDLQ"
) -> None:
    """A job longer than its invocations (executor Timeout 2 s): it continues (the executor sends
    the continuation's message to its profile's queue), its checkpoints kept as files (read back
    from results/); its first message, dead-lettered while the job waits, sends the continuation's
    message again (reconciler)."""
    from asyncjobs.jobs import runner

    fn = harness.stack.functions[executor]
    timeout = fn.timeout
    fn.timeout = 2
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(runner, "MAX_INLINE_CHECKPOINT_BYTES", 0)
            job_id = harness.submit(body={"duration_seconds": 3, "steps": 20, "checkpoint": True})
            harness.execute(max_batches=1, function=executor)
            assert harness.item("acme", job_id)["continuations"] == 1
            # the continuation's message is lost, and the first one is dead-lettered
            url = harness.stack.ref(queue)
            (lost,) = harness.sqs.receive_message(QueueUrl=url)["Messages"]
            assert json.loads(lost["Body"]) == {"tenant_id": "acme", "job_id": job_id, "continuation": 1}
            harness.sqs.delete_message(QueueUrl=url, ReceiptHandle=lost["ReceiptHandle"])
            first = message_body("acme", job_id)
            harness.sqs.send_message(QueueUrl=harness.stack.ref(dlq), MessageBody=first)
            harness.pump()
        assert harness.item("acme", job_id)["status"] == "succeeded"
    finally:
        fn.timeout = timeout


def _haven_flow(harness: Any) -> None:
    """HavenFunction: `apikey`, submit (one action, a job of several, large inputs, form files,
    Idempotency-Key), status with result files, result."""
    key = harness.keys["acme"]
    text = {"text": "a b", "highlight_expression": "b", "apikey": key}

    def haven(method: str, path: str, status: int = 200, **kw: Any) -> Any:
        reply = harness.haven(method, path, **kw)
        assert reply.status == status, reply.body
        return reply.body

    haven("GET", "/1/api/async/highlight/v1", 401, query={**text, "apikey": "ajk_aaaaaaaaaa_" + "A" * 43})
    one = haven("GET", "/1/api/async/highlight/v1", query=text)["jobID"]
    haven("POST", "/1/api/async/highlight/v1", form={**text, "text": "x" * 70_000})  # input stored in S3
    idem = {"Idempotency-Key": "haven-iam-1"}
    assert haven("POST", "/1/api/async/highlight/v1", form=text, headers=idem) == haven(
        "POST", "/1/api/async/highlight/v1", form=text, headers=idem
    )
    harness.fail_calls("sqs", "SendMessage", times=1, code="ServiceUnavailable")
    haven("POST", "/1/api/async/highlight/v1", 503, form=text, headers={"Idempotency-Key": "haven-iam-2"})
    pdf = haven(
        "GET",
        "/1/api/async/proposal_pdf/v1",
        query={
            "apikey": key,
            "design_id": "d-1",
            **{k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in PROPOSAL.items()},
        },
    )["jobID"]
    job = {
        "actions": [
            {"name": "extracttext", "params": {"file": "file1"}},
            {"name": "highlight", "params": {"text": "a b", "highlight_expression": "a"}},
        ]
    }
    multi = haven(
        "POST",
        "/1/job",
        form={"apikey": key, "job": json.dumps(job)},
        files={"file1": ("a.txt", b"text", "text/plain")},
    )["jobID"]
    single = haven(
        "POST",
        "/1/api/async/extracttext/v1",
        form={"apikey": key},
        files={"file": ("b.txt", b"b", "text/plain")},
    )["jobID"]
    file_id = json.loads(harness.item("acme", single)["input_json"])["file"]
    assert harness.run("acme", "/extracttext", {"file": file_id}).status == 202  # RunFunction: HeadObject
    harness.execute()
    for job_id in (one, multi, single):
        assert haven("GET", f"/1/job/result/{job_id}", query={"apikey": key})["status"] == "finished"
    doc = haven("GET", f"/1/job/status/{pdf}", query={"apikey": key})
    assert doc["actions"][0]["result"]["files"][0]["download_url"], doc


def _science_flow(harness: Any, monkeypatch: Any) -> None:
    """ScienceExecutorFunction, and the submits to its queue: every action but highlight declared
    with the `science` profile for this flow. A dead letter; run (a large input, a result file), a
    job of a science and a standard action with a form upload (Haven), a message before its job,
    a job that continues (its continuation's message to the science queue, sent again from its
    dead-letter queue by the reconciler)."""
    for name, action in list(ACTIONS.items()):
        if name != "highlight":
            monkeypatch.setitem(ACTIONS, name, replace(action, profile="science"))
    science_queue = harness.stack.ref("ScienceJobsQueue")
    stranded = harness.submit()  # its message dead-lettered unprocessed: the reconciler ends it
    harness.sqs.purge_queue(QueueUrl=science_queue)
    harness.sqs.send_message(
        QueueUrl=harness.stack.ref("ScienceJobsDLQ"),
        MessageBody=json.dumps({"tenant_id": "acme", "job_id": stranded}),
    )
    harness.pump()
    assert harness.status("acme", "/diagnostic", stranded).body["status"] == "failed"

    large = harness.submit(body={"steps": 1, "echo": {"blob": "x" * 70_000}})
    pdf = harness.run("acme", "/designs/d-1/proposal_pdf", PROPOSAL).body["job_id"]
    job = {
        "actions": [
            {"name": "extracttext", "params": {"file": "file1"}},
            {"name": "highlight", "params": {"text": "a b", "highlight_expression": "a"}},
        ]
    }
    reply = harness.haven(
        "POST",
        "/1/job",
        form={"apikey": harness.keys["acme"], "job": json.dumps(job)},
        files={"file1": ("a.txt", b"text", "text/plain")},
    )
    assert reply.status == 200, reply.body
    harness.sqs.send_message(  # a message whose job is not stored (yet): it comes back soon
        QueueUrl=science_queue,
        MessageBody=json.dumps({"tenant_id": "acme", "job_id": "01a20000-0000-7000-8000-00000000001f"}),
    )
    harness.pump()
    assert harness.status("acme", "/diagnostic", large).body["status"] == "succeeded"
    assert harness.status("acme", "/designs/d-1/proposal_pdf", pdf).body["status"] == "succeeded"
    mixed = harness.request("GET", f"/v2/tenants/acme/jobs/{reply.body['jobID']}").body
    assert mixed["status"] == "succeeded", mixed
    _continuation_flow(harness, "ScienceExecutorFunction", "ScienceJobsQueue", "ScienceJobsDLQ")


def test_every_call_the_handlers_make_is_granted_and_every_grant_is_used(
    harness, recorded, translated, monkeypatch
):
    _every_flow(harness)
    _science_flow(harness, monkeypatch)

    denied, unused, stale = [], [], []
    for function in sorted(harness.handlers):
        rows = grant_rows(translated, function, harness.stack)
        for action, resource in sorted(recorded[function]):
            if not any(a == action and fnmatchcase(resource, arn) for a, _, arn in rows):
                denied.append(f"{function}: {action} on {resource}")
        for action, label, arn in rows:
            used = any(a == action and fnmatchcase(r, arn) for a, r in recorded[function])
            exempt = (function, action, label) in NOT_CALLED_BY_THE_CODE
            if used == exempt:
                (stale if used else unused).append(f"{function}: {action} on {label}")
    assert set(recorded) == set(harness.handlers), "every function ran and called AWS"
    assert not denied, "calls the template does not grant (AccessDenied in AWS):\n" + "\n".join(denied)
    assert not unused, (
        "grants no flow used (remove them, or say why in NOT_CALLED_BY_THE_CODE):\n" + "\n".join(unused)
    )
    assert not stale, "NOT_CALLED_BY_THE_CODE lists grants the flows did use:\n" + "\n".join(stale)
