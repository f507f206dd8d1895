"""The Haven facade's pure parts: the highlight and extracttext actions, status words, bodies and
error bodies (no AWS)."""

from __future__ import annotations

import json

import pytest

from asyncjobs.actions.base import ActionFailed
from asyncjobs.actions.extracttext import extract_text
from asyncjobs.actions.highlight import HighlightInput, highlight
from asyncjobs.haven import bodies
from asyncjobs.haven.errors import CODES, HavenError, action_error
from asyncjobs.haven.params import find_action, inputs_from_strings, read_job
from asyncjobs.jobs.models import Job, JobError, JobStatus

SPAN = '<span class="highlight">'


def hl(text: str, expression: str) -> str:
    return highlight(text, expression, SPAN, "</span>")


# -- highlight ---------------------------------------------------------------------------------


def test_highlight_wraps_the_seed_example():
    assert hl("highlighted text", "highlighted") == f"{SPAN}highlighted</span> text"


def test_highlight_is_case_insensitive_and_whole_word():
    # Given a term that is also the start of a longer word, when highlighted,
    # then only whole words match, in any case, keeping the text's own case
    assert hl("Links, links and linkset", "links") == f"{SPAN}Links</span>, {SPAN}links</span> and linkset"


def test_highlight_takes_comma_separated_terms_and_phrases_longest_first():
    out = hl("the quick brown fox, quick fox", "quick, quick  brown , fox")
    assert out == (f"the {SPAN}quick brown</span> {SPAN}fox</span>, {SPAN}quick</span> {SPAN}fox</span>")


def test_highlight_escapes_html_in_the_text_but_not_the_tags():
    out = highlight("<b>x</b> & y", "x", "<em>", "</em>")
    assert out == "&lt;b&gt;<em>x</em>&lt;/b&gt; &amp; y"


def test_highlight_terms_of_symbols_match_where_they_stand():
    assert hl("I like c++ a lot", "c++") == f"I like {SPAN}c++</span> a lot"


def test_highlight_input_refuses_an_expression_without_terms():
    with pytest.raises(ValueError, match="at least one word"):
        HighlightInput(text="a", highlight_expression=" , ,")


# -- extracttext -------------------------------------------------------------------------------


def pdf_with(*pages: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.cell(0, 10, text)
    return bytes(pdf.output())


def test_extracttext_reads_each_page_of_a_pdf():
    doc = extract_text(pdf_with("Hello from page one", "And page two"))
    assert doc["content_type"] == "application/pdf" and doc["pages"] == 2
    assert "Hello from page one" in doc["content"] and "And page two" in doc["content"]


def test_extracttext_returns_utf8_text_as_is():
    assert extract_text("\ufeffgrüße\nzwei".encode()) == {
        "content": "grüße\nzwei",
        "content_type": "text/plain",
        "pages": None,
    }


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n\x00\x00", "utf-16".encode("utf-16"), b"%PDF-1.7 garbage"]
)
def test_extracttext_refuses_what_it_cannot_read(data):
    with pytest.raises(ActionFailed) as exc:
        extract_text(data)
    assert exc.value.code == "unsupported_file"


# -- status words and bodies -------------------------------------------------------------------


def job(status: JobStatus, action: str = "highlight", **kw) -> Job:
    return Job("acme", "01a20000-0000-7000-8000-000000000001", action, status, 1.0, 10**10, **kw)


def public(j: Job) -> dict:
    return j.to_public()


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (JobStatus.QUEUED, "queued"),
        (JobStatus.IN_PROGRESS, "in progress"),
        (JobStatus.SUCCEEDED, "finished"),
        (JobStatus.FAILED, "failed"),
        (JobStatus.CANCELLED, "failed"),
    ],
)
def test_status_words(status, word):
    assert bodies.word(status) == word


@pytest.mark.parametrize(
    ("job_status", "words", "expected"),
    [
        (JobStatus.QUEUED, ["queued", "queued"], "queued"),
        (JobStatus.IN_PROGRESS, ["finished", "queued", "in progress"], "queued"),
        (JobStatus.IN_PROGRESS, ["finished", "in progress"], "in progress"),
        (JobStatus.IN_PROGRESS, ["finished", "failed"], "in progress"),  # not yet recorded as ended
        (JobStatus.SUCCEEDED, ["finished", "failed"], "finished"),
        (JobStatus.FAILED, ["failed", "failed"], "failed"),
        (JobStatus.SUCCEEDED, ["finished"], "finished"),
    ],
)
def test_job_word(job_status, words, expected):
    assert bodies.job_word(job_status, words) == expected


def test_status_body_of_a_finished_a_failed_and_a_queued_action():
    # Given a job whose actions finished, failed and are queued
    done = job(JobStatus.SUCCEEDED, result_json=json.dumps({"text": "x"}))
    failed = job(JobStatus.FAILED, "extracttext", error=JobError("unsupported_file", "Not a PDF."))
    queued = job(JobStatus.QUEUED, "diagnostic")
    parent = job(JobStatus.IN_PROGRESS, "multi_action")

    # When mapped to Haven's body
    body = bodies.status_body(parent.job_id, parent.status, [done, failed, queued], public)

    # Then each action has Haven's word and its result or error, the error also as `errors`
    error = {
        "error": 7100,
        "reason": "Action failed",
        "detail": {"code": "unsupported_file", "message": "Not a PDF."},
    }
    assert body == {
        "actions": [
            {"action": "highlight", "version": "v1", "status": "finished", "result": {"text": "x"}},
            {"action": "extracttext", "version": "v1", "status": "failed", "error": error, "errors": [error]},
            {"action": "diagnostic", "version": "v1", "status": "queued"},
        ],
        "jobID": parent.job_id,
        "status": "queued",
    }


def test_a_cancelled_action_is_failed_with_its_own_error():
    body = bodies.action_body(job(JobStatus.CANCELLED), public)
    assert body["status"] == "failed" and body["error"]["error"] == 7102 and body["errors"] == [body["error"]]


def test_a_result_too_large_to_keep_inline_is_its_file():
    doc = {"result_file": {"name": "result.json", "download_url": "https://s3/x"}}
    assert bodies.result_of(doc) == {"result_file": doc["result_file"]}


# -- errors ------------------------------------------------------------------------------------


def test_every_error_body_has_code_reason_and_detail_and_a_4xx_or_5xx_status_but_7010():
    for code, (reason, status) in CODES.items():
        body = HavenError(code, "why").body()
        assert body == {"error": code, "reason": reason, "detail": "why"}
        assert 400 <= status < 600 or code == 7010


def test_the_seed_code_for_an_invalid_parameter():
    assert CODES[4006] == ("Invalid job action parameter", 400)


def test_errors_of_the_service_are_told_from_the_callers():
    assert action_error(JobError("action_error", "boom")).code == 7101
    assert action_error(JobError("unsupported_file", "no")).code == 7100
    assert HavenError(7010, job_id="j").body()["jobID"] == "j"


# -- parameters --------------------------------------------------------------------------------


def test_parameters_are_validated_by_the_actions_model_with_haven_codes():
    action = find_action("highlight", "v1")
    _, inputs = inputs_from_strings(action, {"text": ["a b"], "highlight_expression": ["a"]})
    assert inputs.text == "a b"
    with pytest.raises(HavenError) as missing:
        inputs_from_strings(action, {"text": ["a"]})
    assert missing.value.code == 4008 and "highlight_expression" in missing.value.detail
    with pytest.raises(HavenError) as invalid:
        inputs_from_strings(action, {"text": [""], "highlight_expression": ["a"]})
    assert invalid.value.code == 4006 and "'text'" in invalid.value.detail
    with pytest.raises(HavenError) as extra:
        inputs_from_strings(action, {"text": ["a"], "highlight_expression": ["a"], "colour": ["red"]})
    assert extra.value.code == 4006 and "'colour' is not a parameter of highlight" in extra.value.detail


def test_strings_become_numbers_and_json_objects_where_the_model_says_so():
    action = find_action("diagnostic", "v1")
    _, inputs = inputs_from_strings(action, {"steps": ["2"], "echo": ['{"n": 1}']})
    assert inputs.steps == 2 and inputs.echo == {"n": 1}


def test_path_parameters_come_from_the_parameters_too():
    action = find_action("proposal_pdf", "v1")
    with pytest.raises(HavenError) as exc:
        inputs_from_strings(action, {})
    assert exc.value.code == 4008 and "design_id" in exc.value.detail


@pytest.mark.parametrize(("name", "version", "code"), [("nosuch", "v1", 4004), ("highlight", "v2", 4005)])
def test_unknown_action_or_version(name, version, code):
    with pytest.raises(HavenError) as exc:
        find_action(name, version)
    assert exc.value.code == code and exc.value.status == 404


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (None, 4008),
        ("{not json", 4010),
        ('{"actions": []}', 4010),
        ('{"actions": [{"version": "v1"}]}', 4010),
        ('{"actions": [{"name": "highlight", "params": []}]}', 4010),
        ('{"actions": [{"name": "nosuch"}]}', 4004),
        ('{"actions": [{"name": "highlight", "version": "v9"}]}', 4005),
        (json.dumps({"actions": [{"name": "highlight"}] * 11}), 4010),
    ],
)
def test_malformed_jobs(text, code):
    with pytest.raises(HavenError) as exc:
        read_job(text, max_actions=10)
    assert exc.value.code == code


def test_only_file_parameters_name_file_fields():
    (extract,) = read_job('{"actions": [{"name": "extracttext", "params": {"file": "file1"}}]}', 10)
    (text,) = read_job(
        '{"actions": [{"name": "highlight", "params": {"text": "file1", "highlight_expression": "x"}}]}', 10
    )
    files = {"file1": ["uploaded"]}
    assert extract.file_refs(files) == {"file": "file1"} and text.file_refs(files) == {}


def test_a_file_parameter_naming_no_form_field_says_so():
    (extract,) = read_job('{"actions": [{"name": "extracttext", "params": {"file": "file9"}}]}', 10)
    with pytest.raises(HavenError) as exc:
        extract.validated(extract.file_refs({"file1": ["uploaded"]}), {})
    assert exc.value.code == 4006 and "'file' is 'file9': name a file field of this form" in exc.value.detail


# -- the local stack's request log -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("/1/job/status/j?apikey=ajk_a_b&x=1", "/1/job/status/j?apikey=***&x=1"),
        ("/1/api/sync/highlight/v1?text=a&APIKEY=s%20e", "/1/api/sync/highlight/v1?text=a&APIKEY=***"),
        ("/1/job/status/j?myapikey=1", "/1/job/status/j?myapikey=1"),
        # names are decoded before they are compared, as the function decodes them
        ("/1/job/status/j?api%6Bey=s&x=1", "/1/job/status/j?api%6Bey=***&x=1"),
        ("/1/job/status/j?%61pikey=s", "/1/job/status/j?%61pikey=***"),
        ("/1/job/status/j?x=apikey=1", "/1/job/status/j?x=apikey=1"),
    ],
)
def test_the_local_stack_logs_no_apikey_value(raw, logged):
    from devstack.server import redact

    assert redact(raw) == logged


def test_the_public_clients_name_for_highlight_is_highlight():
    assert find_action("highlighttext", "v1").name == "highlight"


def test_a_corrupt_pdf_is_an_unsupported_file_whatever_pypdf_raises():
    broken = pdf_with("x")[:200] + b"\x00" * 50 + b"%%EOF"
    with pytest.raises(ActionFailed) as exc:
        extract_text(broken)
    assert exc.value.code == "unsupported_file"


def test_highlight_refuses_a_match_count_that_would_blow_up_its_result():
    from asyncjobs.actions.base import ActionFailed
    from asyncjobs.actions.highlight import MAX_MATCHES, highlight

    assert highlight("a " * MAX_MATCHES, "a", "<b>", "</b>").count("<b>") == MAX_MATCHES
    with pytest.raises(ActionFailed) as exc:
        highlight("a " * (MAX_MATCHES + 1), "a", "<b>", "</b>")
    assert exc.value.code == "too_many_matches"
