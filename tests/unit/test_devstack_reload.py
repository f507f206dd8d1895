"""The local stack's hot reload (file watching, swapping a function's environments) and its list of
the template's triggers it does not run."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from devstack.__main__ import _command
from devstack.functions import FunctionPool, InitError, function_environment
from devstack.provision import FunctionSpec
from devstack.reload import Watcher, changed, forget_bytecode, snapshot
from devstack.routes import http_routes
from devstack.template import Translated, load
from devstack.unsupported import unsupported
from tests.support import ROOT

# -- watching files ------------------------------------------------------------------------------


def test_snapshot_sees_python_files_only_and_skips_caches(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("A = 1\n")
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"")
    (tmp_path / "pkg" / "notes.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.py").write_text("")

    assert set(snapshot([tmp_path])) == {tmp_path / "pkg" / "a.py"}


def test_changed_reports_edits_additions_and_deletions():
    a, b, c = Path("a.py"), Path("b.py"), Path("c.py")
    before = {a: (1, 10), b: (1, 10)}
    after = {a: (2, 10), c: (1, 1)}

    assert changed(before, after) == {a, b, c}
    assert changed(before, before) == set()


def test_watcher_reports_a_burst_of_edits_once_it_is_over(tmp_path):
    # Given a watcher polling every 50 ms
    (tmp_path / "a.py").write_text("A = 1\n")
    calls: list[set[Path]] = []
    stop = threading.Event()
    watcher = Watcher([tmp_path], calls.append, stop, interval=0.05)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        # When two files change within one burst (and a cache file too)
        (tmp_path / "a.py").write_text("A = 2\n")
        (tmp_path / "b.py").write_text("B = 1\n")
        (tmp_path / "__pycache__").mkdir()
        (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()

    # Then one call names both source files
    assert calls == [{tmp_path / "a.py", tmp_path / "b.py"}]


def test_forget_bytecode_removes_the_cached_module(tmp_path):
    import importlib.util
    import py_compile

    source = tmp_path / "m.py"
    source.write_text("X = 1\n")
    cached = Path(py_compile.compile(str(source)))
    assert cached == Path(importlib.util.cache_from_source(str(source))) and cached.exists()

    forget_bytecode([source, tmp_path / "gone.py"])

    assert not cached.exists()


# -- swapping a function's environments ----------------------------------------------------------

APP = """
import time

VERSION = {version}


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return VERSION
"""


@pytest.fixture
def pool(tmp_path):
    (tmp_path / "app.py").write_text(APP.format(version=1))
    spec = FunctionSpec(
        logical_id="VersionFunction",
        name="version",
        handler="app.handler",
        code_dir=tmp_path,
        layer_dirs=[],
        environment={},
        timeout=10,
        memory=128,
    )
    env = function_environment(spec, "us-east-1", "http://127.0.0.1:9")
    pool = FunctionPool(spec, env, lambda *_: None, concurrency=2)
    pool.warm()
    yield pool
    pool.close()


def _write(pool: FunctionPool, text: str) -> None:
    path = pool.spec.code_dir / "app.py"
    path.write_text(text)
    forget_bytecode([path])


def test_replace_runs_new_code_and_lets_a_busy_invocation_finish_on_the_old(pool):
    # Given an invocation in progress on the first version
    busy: list[Any] = []
    thread = threading.Thread(target=lambda: busy.append(pool.invoke({"sleep": 1.0})))
    thread.start()
    time.sleep(0.3)

    # When the code changes and the pool is replaced
    _write(pool, APP.format(version=2))
    pool.replace()

    # Then new invocations run the new code at once, and the busy one ends normally on the old
    assert pool.invoke({}).result == 2
    thread.join()
    assert busy[0].ok and busy[0].result == 1
    # and the old environment is retired once done: every later invocation sees version 2
    assert [pool.invoke({}).result for _ in range(3)] == [2, 2, 2]


def test_replace_with_code_that_does_not_import_changes_nothing(pool):
    _write(pool, "def handler(:\n")

    with pytest.raises(InitError) as raised:
        pool.replace()

    assert "invalid syntax" in raised.value.detail or "never closed" in raised.value.detail
    assert pool.invoke({}).result == 1

    _write(pool, APP.format(version=3))
    pool.replace()
    assert pool.invoke({}).result == 3


# -- triggers the local stack does not run -------------------------------------------------------


def _warnings(resources: dict[str, Any]) -> list[str]:
    return unsupported(Translated(Path("template.yaml"), {"Resources": resources}, {}, {}))


def _function(events: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": {"Events": events, **props}}


def test_the_project_template_runs_entirely_locally():
    assert unsupported(load(ROOT / "template.yaml")) == []


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)"}}, "event E (Schedule) is not run"),
        ({"Type": "S3", "Properties": {"Bucket": {"Ref": "B"}}}, "S3 notifications"),
        ({"Type": "DynamoDB", "Properties": {"Stream": "arn"}}, "stream event sources"),
        ({"Type": "Api", "Properties": {"Path": "/", "Method": "get"}}, "REST APIs"),
        (
            {"Type": "SQS", "Properties": {"Queue": "arn", "FilterCriteria": {"Filters": []}}},
            "FilterCriteria",
        ),
        ({"Type": "HttpApi", "Properties": {"PayloadFormatVersion": "1.0"}}, "payload format 1.0"),
        (
            {"Type": "EventBridgeRule", "Properties": {"Pattern": {"source": [{"new-operator": 1}]}}},
            "pattern operator 'new-operator'",
        ),
        (
            {"Type": "EventBridgeRule", "Properties": {"Pattern": {}, "InputTransformer": {}}},
            "InputTransformer",
        ),
    ],
)
def test_each_event_the_stack_does_not_run_is_named_with_its_function(event, expected):
    warnings = _warnings({"F": _function({"E": event})})

    assert len(warnings) == 1 and warnings[0].startswith("F: ") and expected in warnings[0], warnings


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"ScalingConfig": {"MaximumConcurrency": 2}}, "MaximumConcurrency"),
        ({"MaximumBatchingWindowInSeconds": 20}, "MaximumBatchingWindowInSeconds"),
    ],
)
def test_sqs_trigger_settings_the_stack_ignores_are_named(setting, expected):
    """The module's promise: "trigger settings it ignores" are listed. The local stack polls every
    queue with its own concurrency (4) and no batching window, whatever the event source says: a
    template that caps a consumer at 2 concurrent invocations runs it 4 at a time, silently."""
    event = {"Type": "SQS", "Properties": {"Queue": "arn", "BatchSize": 10, **setting}}

    warnings = _warnings({"F": _function({"E": event})})

    assert len(warnings) == 1 and warnings[0].startswith("F: ") and expected in warnings[0], warnings


def test_events_the_stack_runs_give_no_warning():
    pattern = {"source": ["a"], "detail": {"n": [{"numeric": [">", 1]}, {"anything-but": {"prefix": "x"}}]}}
    events = {
        "H": {"Type": "HttpApi", "Properties": {"Path": "/x", "Method": "GET"}},
        "Q": {"Type": "SQS", "Properties": {"Queue": "arn", "BatchSize": 1}},
        "R": {"Type": "EventBridgeRule", "Properties": {"Pattern": pattern}},
    }

    assert _warnings({"F": _function(events)}) == []


def test_resources_that_trigger_nothing_give_no_warning():
    resources = {
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors"}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Api": {
            "Type": "AWS::Serverless::HttpApi",
            "Properties": {"AccessLogSettings": {"DestinationArn": {"Fn::GetAtt": ["Logs", "Arn"]}}},
        },
    }

    assert _warnings(resources) == []


def test_other_unsupported_declarations_are_named():
    resources = {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Stream": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]}},
        },
        "Polled": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}},
        },
        "Cron": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(5 minutes)"}},
        "Url": {"Type": "AWS::Lambda::Url", "Properties": {}},
        "F": _function(
            {},
            FunctionUrlConfig={"AuthType": "NONE"},
            DeadLetterQueue={"Type": "SQS", "TargetArn": "arn:aws:sqs:us-east-1:1:dlq"},
            EventInvokeConfig={
                "DestinationConfig": {"OnSuccess": {"Type": "SQS"}, "OnFailure": {"Type": "SNS"}}
            },
        ),
        "Api": {
            "Type": "AWS::Serverless::HttpApi",
            "Properties": {"Auth": {"Authorizers": {"Jwt": {"JwtConfiguration": {"issuer": "x"}}}}},
        },
    }

    text = "\n".join(_warnings(resources))

    for expected in (
        "Stream: event source Table.StreamArn is not polled",
        "Cron: rule (rate(5 minutes)) does not fire locally",
        "Url: function URLs",
        "F: its function URL",
        "F: the OnSuccess destination",
        "F: its DeadLetterQueue",
        "F: the OnFailure destination (SNS)",
        "Api: authorizer Jwt",
    ):
        assert expected in text, text
    assert "Polled" not in text


def test_routes_behind_a_jwt_authorizer_are_served_without_one():
    sam = {
        "Resources": {
            "Api": {
                "Type": "AWS::Serverless::HttpApi",
                "Properties": {
                    "Auth": {"DefaultAuthorizer": "Jwt", "Authorizers": {"Jwt": {"JwtConfiguration": {}}}}
                },
            },
            "F": _function(
                {
                    "H": {
                        "Type": "HttpApi",
                        "Properties": {"ApiId": {"Ref": "Api"}, "Path": "/x", "Method": "GET"},
                    }
                }
            ),
        }
    }

    (route,) = http_routes(Translated(Path("template.yaml"), sam, {}, {}))

    assert route.path == "/x" and route.authorizer is None


# -- the banner's CLI line -----------------------------------------------------------------------


def test_cli_command_is_filled_from_the_bootstrap_and_quoted():
    template = "URL={base_url} KEY={api_key} cli run --input '{\"n\": 2}'"

    filled = _command(template, {"base_url": "http://127.0.0.1:8000", "api_key": "a b", "lines": []})

    assert filled == "URL=http://127.0.0.1:8000 KEY='a b' cli run --input '{\"n\": 2}'"
    assert _command(template, {"base_url": "http://x"}) is None  # no key: no line
