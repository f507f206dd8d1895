"""The public Haven OnDemand Python client (`havenondemand` 2.0.1, 2016) against the local stack,
with only its base URL changed.

The client is Python 2 syntax: one parameter is named `async`, a keyword since Python 3.7. Its
source is loaded from the installed package with that name (and only that name, token by token)
renamed to `is_async`; nothing else in it changes.
"""

from __future__ import annotations

import io
import json
import tokenize
import types
from pathlib import Path

import pytest

from tests.unit.test_haven_unit import pdf_with

SPAN = '<span class="highlight">'


def client_source() -> tuple[Path, str]:
    import havenondemand

    path = Path(havenondemand.__file__).with_name("hodclient.py")
    return path, path.read_text()


def patched(source: str) -> str:
    lines = source.splitlines(keepends=True)
    # Every NAME token `async`, from the last to the first so earlier positions stay valid.
    found = [
        tok.start
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.NAME and tok.string == "async"
    ]
    assert found, "the client no longer names a parameter `async`: load it as is"
    for row, col in reversed(found):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + "is_async" + line[col + len("async") :]
    return "".join(lines)


def load_hodclient() -> types.ModuleType:
    path, source = client_source()
    module = types.ModuleType("havenondemand.hodclient")
    module.__file__ = str(path)
    exec(compile(patched(source), str(path), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def client(api):
    hodclient = load_hodclient()
    cls = hodclient.HODClient
    # Class attributes, as the client declares them; pointed at the local stack.
    cls.hodEndPoint = f"{api.base_url}/1/api/"
    cls.hodJobResult = f"{api.base_url}/1/job/result/"
    cls.hodJobStatus = f"{api.base_url}/1/job/status/"
    cls.hodBatchJob = f"{api.base_url}/1/job"
    return cls(api.key)


@pytest.fixture
def parser():
    from havenondemand.hodresponseparser import HODResponseParser

    return HODResponseParser()


def test_the_patch_renames_async_only():
    # Given the client's source and the patched one, when both are tokenized, then they differ
    # only where a name `async` became `is_async` (strings such as "async/%s/%s" untouched)
    _, source = client_source()

    def tokens(text: str) -> list[tuple[int, str]]:
        return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)]

    before, after = tokens(source), tokens(patched(source))
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed and set(changed) == {((tokenize.NAME, "async"), (tokenize.NAME, "is_async"))}
    assert '"async/%s/%s"' in patched(source)


def test_sync_get_and_post(client, parser):
    params = {"text": "highlighted text", "highlight_expression": "highlighted"}
    for call in (client.get_request, client.post_request):
        response = call(params, "highlight", False)
        assert parser.parse_payload(response) == {"text": f"{SPAN}highlighted</span> text"}, response
        assert parser.get_last_error().errors == []


def test_async_then_status_and_result(client, parser):
    params = {"text": "a text with links", "highlight_expression": "links"}
    job_id = parser.parse_jobid(client.post_request(params, "highlighttext", True))  # HODApps' name
    assert job_id, parser.get_last_error().errors
    result = parser.parse_payload(client.get_job_result(job_id))
    assert result == {"text": f"a text with {SPAN}links</span>"}
    assert parser.parse_payload(client.get_job_status(job_id)) == result


def test_batch_job_with_an_uploaded_file(client, parser, tmp_path):
    # The client sends the file as the multipart field `file`: the job names that field.
    pdf = tmp_path / "memo.pdf"
    pdf.write_bytes(pdf_with("Memo for the board"))
    job = {
        "actions": [
            {"name": "extracttext", "version": "v1", "params": {"file": "file"}},
            {
                "name": "highlight",
                "version": "v1",
                "params": {"text": "one two", "highlight_expression": "two"},
            },
        ]
    }
    job_id = parser.parse_jobid(client.post_request_batch({"job": json.dumps(job), "file": str(pdf)}))
    assert job_id, [vars(e) for e in parser.get_last_error().errors]
    response = client.get_job_result(job_id)
    assert response["status"] == "finished", response
    assert "Memo for the board" in parser.parse_payload(response)["document"][0]["content"]
    assert response["actions"][1]["result"] == {"text": f"one {SPAN}two</span>"}


def test_errors_reach_the_parser(client, parser):
    response = client.get_request({"text": "x"}, "highlight", False)  # highlight_expression missing
    assert parser.parse_payload(response) is None
    (error,) = parser.get_last_error().errors
    assert error.error == 4008 and "highlight_expression" in error.detail
