"""The local stack for daily work: a running `make local` picks up edits to a function's code and to
its layer without losing its data or the work in flight, survives a broken edit, and says which
of the template's triggers it does not run.

The stacks here run from a copy of the project (template, functions, layers) in a temporary
folder: the tests edit the copy, never this repository's files."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.client import Api, LocalStackProcess, copy_template
from tests.support import ROOT

# Added to the result of the copy's diagnostic action.
NEW_RESULT = """        "echo": inputs.echo,
        "reloaded": "yes",
"""

# Appended to the copy's StatusFunction handler module: every response gets a header.
STATUS_WRAPPER = """

_handler = handler


def handler(event, context):
    response = _handler(event, context)
    response.setdefault("headers", {})["x-reloaded"] = "yes"
    return response
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the parts of the project the local stack runs."""
    root = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("functions", "layers"):
        shutil.copytree(ROOT / folder, root / folder, ignore=ignore)
    shutil.copy(ROOT / "template.yaml", root / "template.yaml")
    return root


@pytest.fixture(scope="module")
def stack(project):
    work = project / "run"
    work.mkdir()
    with LocalStackProcess(project / "template.yaml", work, retry_after=1, reload=True) as stack:
        yield stack
    assert stack.returncode == 0


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return Api(stack.base_url, stack, "t", stack.create_key("t"))


def _wait_for(stack: LocalStackProcess, text: str, after: int, timeout: float = 40.0) -> str:
    """The stack's output after offset `after` once it contains `text`."""
    deadline = time.monotonic() + timeout
    while True:
        out = stack.log()[after:]
        if text in out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in the stack's output after {timeout} s:\n{out}")
        time.sleep(0.1)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path} no longer contains exactly one {old!r}"
    path.write_text(text.replace(old, new))


def test_layer_edit_reloads_its_functions_keeping_data_and_work_in_flight(project, stack, api):
    # Given a finished job and a job still running on the old code
    before = api.wait(api.run("/diagnostic", {"steps": 1}).headers["Location"])
    assert before["status"] == "succeeded" and "reloaded" not in before["result"]
    running = api.run("/diagnostic", {"duration_seconds": 4, "steps": 4}).headers["Location"]
    deadline = time.monotonic() + 10
    while (status := api.request("GET", running).body["status"]) != "in_progress":
        assert status == "queued" and time.monotonic() < deadline, f"the long job is {status}"
        time.sleep(0.1)
    mark = len(stack.log())

    # When the layer's diagnostic action changes on disk
    action = project / "layers/jobs/asyncjobs/actions/diagnostic.py"
    _edit(action, '        "echo": inputs.echo,\n', NEW_RESULT)

    # Then every function using the layer is reloaded, with one notice naming the file
    out = _wait_for(stack, "reloaded ", mark)
    notice = next(line for line in out.splitlines() if "reloaded " in line)
    assert "ExecutorFunction" in notice and "RunFunction" in notice, notice
    assert "(layers/jobs/asyncjobs/actions/diagnostic.py changed)" in notice, notice
    # the job that was running finishes, once, on the code it started with
    finished = api.wait(running)
    assert finished["status"] == "succeeded" and "reloaded" not in finished["result"], finished
    assert finished["result"]["attempt"] == 1
    # new jobs run the new code
    after = api.wait(api.run("/diagnostic", {"steps": 1}).headers["Location"])
    assert after["status"] == "succeeded" and after["result"]["reloaded"] == "yes", after
    # and what existed before the reload is still there: the tenant's key (every request above
    # used it) and its earlier job
    again = api.request("GET", f"/v2/tenants/t/jobs/{before['job_id']}")
    assert again.status == 200 and again.body["status"] == "succeeded", again.text


def test_broken_edit_is_reported_and_the_stack_keeps_serving_until_it_is_fixed(project, stack, api):
    job = api.wait(api.run("/diagnostic", {"steps": 1}).headers["Location"])
    status_url = f"/v2/tenants/t/jobs/{job['job_id']}"
    app = project / "functions/status/app.py"
    original = app.read_text()
    mark = len(stack.log())

    # When the StatusFunction's handler module gets a syntax error
    app.write_text(original + "\ndef broken(:\n")

    # Then the failure is reported, naming the function and the error, and only that function
    out = _wait_for(stack, "reload failed", mark)
    line = next(line for line in out.splitlines() if "reload failed" in line)
    assert "StatusFunction" in line and "functions/status/app.py" in line, line
    assert "invalid syntax" in line or "SyntaxError" in line or "was never closed" in line, line
    assert "RunFunction" not in line
    # and the stack keeps serving the code it had
    reply = api.request("GET", status_url)
    assert reply.status == 200 and "x-reloaded" not in reply.headers, reply.text

    # When the file is fixed (with a visible change)
    mark = len(stack.log())
    app.write_text(original + STATUS_WRAPPER)

    # Then the function is reloaded and answers with the new code
    out = _wait_for(stack, "reloaded StatusFunction", mark)
    assert "(functions/status/app.py changed)" in out
    reply = api.request("GET", status_url)
    assert reply.status == 200 and reply.headers.get("x-reloaded") == "yes", reply.headers
    assert reply.body["job_id"] == job["job_id"]


def test_broken_edit_of_an_action_is_reported_and_its_runs_keep_the_previous_code(project, stack, api):
    """README: a broken edit (a syntax error...) is reported with `reload failed` and "the previous
    code keeps serving until the file is fixed". An action's module is imported on the first run,
    not at INIT: the reload must not take a broken one for a good one and retire the working code."""
    action = project / "layers/jobs/asyncjobs/actions/diagnostic.py"
    original = action.read_text()
    mark = len(stack.log())
    try:
        # When the layer's diagnostic action gets a syntax error
        action.write_text(original + "\ndef broken(:\n")

        # Then the failure is reported, and runs of the action are still accepted and run
        out = _wait_for(stack, "reload", mark)
        assert "reload failed" in out and "diagnostic.py" in out, out
        accepted = api.run("/diagnostic", {"steps": 1})
        assert accepted.status == 202, accepted.text
        assert api.wait(accepted.headers["Location"])["status"] == "succeeded"
    finally:
        mark = len(stack.log())
        action.write_text(original)
        _wait_for(stack, "reloaded ", mark)


def test_template_edit_asks_for_a_restart(project, stack, api):
    mark = len(stack.log())

    with (project / "template.yaml").open("a") as template:
        template.write("# edited\n")

    out = _wait_for(stack, "template.yaml changed", mark)
    assert "restart" in out and "reloaded" not in out
    assert api.request("GET", "/v2/tenants/t/jobs").status == 200


HELLO = """
def handler(event, context):
    return {"statusCode": 200, "body": "hello"}
"""

UNSUPPORTED = """
  NightlyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}
      Handler: app.handler
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
        Filtered:
          Type: SQS
          Properties:
            Queue: !GetAtt FilteredQueue.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{{"body": {{"kind": ["nightly"]}}}}'
        Hello:
          Type: HttpApi
          Properties:
            ApiId: !Ref JobsApi
            Method: GET
            Path: /hello
            Auth:
              Authorizer: NONE

  FilteredQueue:
    Type: AWS::SQS::Queue

  NightlyLogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /aws/lambda/nightly
      RetentionInDays: 7

  NightlyErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - Name: FunctionName
          Value: !Ref NightlyFunction
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!GetAtt NightlyLogGroup.Arn]
"""


def test_triggers_the_stack_cannot_run_are_warned_about_at_start(tmp_path):
    # Given a copy of the template with a schedule and a filtered SQS trigger (plus a log group
    # and an alarm, which trigger nothing)
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "app.py").write_text(HELLO)
    template = copy_template(tmp_path, [], extra_resources=UNSUPPORTED.format(code=tmp_path / "hello"))

    # When the local stack starts from it
    with LocalStackProcess(template, tmp_path) as stack:
        out = stack.log()
        hello = requests.get(stack.base_url + "/hello", timeout=10)

    # Then it runs what it can and names, in its banner, each trigger it ignores and why
    assert hello.status_code == 200 and hello.text == "hello"
    warnings = [line.strip() for line in out.splitlines() if line.strip().startswith("warning:")]
    assert any("NightlyFunction: event Nightly (Schedule)" in w and "schedules" in w for w in warnings), out
    assert any("NightlyFunction: event Filtered (SQS)" in w and "FilterCriteria" in w for w in warnings), out
    assert not any("LogGroup" in w or "Alarm" in w for w in warnings), warnings
    assert len(warnings) == 2, warnings
    assert stack.returncode == 0
