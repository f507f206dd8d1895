"""The bounded JSON parser every request body goes through (http.gate.parse_json_body, http.gate.gate)."""

from __future__ import annotations

import base64
import json

import pytest

from asyncjobs.http.gate import (
    MAX_JSON_DEPTH,
    MAX_JSON_INT_DIGITS,
    BodyRefused,
    gate,
    json_depth,
    load_checked_json,
    parse_json_body,
)
from asyncjobs.jobs.ids import is_job_id, new_job_id


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("5", 0),
        ('"[[[["', 0),
        ("[]", 1),
        ('{"a": "\\"[[[{{{", "b": "\\\\"}', 1),  # brackets inside strings, escaped quote and backslash
        ('[{"a": [1, {"b": []}]}, []]', 5),
        ("[" * 1000 + "]" * 1000, 1000),
    ],
)
def test_depth_counts_only_brackets_outside_strings(text, depth):
    assert json_depth(text) == depth


def test_bodies_at_every_limit_are_accepted():
    deepest = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_depth(deepest) == MAX_JSON_DEPTH and parse_json_body(deepest) is not None
    longest = "-" + "9" * MAX_JSON_INT_DIGITS
    assert parse_json_body(f"[{longest}]") == [int(longest)]
    assert parse_json_body("[1.7976931348623157e308, -0.0, 1e-999]") == [1.7976931348623157e308, -0.0, 0.0]
    # a surrogate pair is one character; an escaped backslash before "ud800" is no escape at all
    assert parse_json_body('["\\ud83d\\ude00", "\\\\ud800"]') == ["\U0001f600", "\\ud800"]


@pytest.mark.parametrize(
    ("text", "status", "words"),
    [
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), 422, f"limit is {MAX_JSON_DEPTH} levels"),
        ("[" * 200_000, 422, "200000 levels"),
        ("[" + "1" * (MAX_JSON_INT_DIGITS + 1) + "]", 422, f"{MAX_JSON_INT_DIGITS + 1} digits"),
        ("[1e309]", 422, "out of range"),
        ("[-Infinity]", 400, "-Infinity is not a JSON number"),
        ('{"\\udc00": 1}', 400, "surrogate"),
        ('["\\ud83d"]', 400, "surrogate"),
        ('{"a": 1', 400, "not valid JSON"),
    ],
)
def test_bodies_beyond_a_limit_are_refused_with_a_reason(text, status, words):
    with pytest.raises(BodyRefused) as refused:
        parse_json_body(text)
    assert refused.value.status == status and words in refused.value.message
    body = json.loads(refused.value.response()["body"])
    assert set(body) == {"error"} and body["error"]["message"] == refused.value.message
    if status == 422:
        assert body["error"]["code"] == "validation_failed"
        assert body["error"]["details"][0]["location"] == "body"
    else:
        assert body["error"]["code"] == "malformed_json" and "details" not in body["error"]


def _event(body: str, base64_encoded: bool = False) -> dict:
    return {
        "requestContext": {"authorizer": {"lambda": {"tenant_id": "acme"}}},
        "pathParameters": {"tenant_id": "acme"},
        "headers": {"content-type": "application/json"},
        "body": base64.b64encode(body.encode()).decode() if base64_encoded else body,
        "isBase64Encoded": base64_encoded,
    }


def test_gate_refuses_a_base64_encoded_body_beyond_a_limit():
    reply = gate(_event('{"n": ' + "1" * 5000 + "}", base64_encoded=True))
    assert reply is not None and reply["statusCode"] == 422


def test_the_body_gate_parsed_is_handed_to_the_resolver_once():
    text = '{"echo": {"a": [1, 2]}}'
    assert gate(_event(text)) is None
    first = load_checked_json(text)
    assert first == {"echo": {"a": [1, 2]}}
    assert load_checked_json(text) is not first  # handed over once; then parsed anew
    with pytest.raises(json.JSONDecodeError):  # a body that bypassed gate() is bounded too
        load_checked_json("[" * 100)


def test_job_id_check_is_anchored_at_the_end():
    job_id = new_job_id()
    assert is_job_id(job_id) and not is_job_id(job_id + "\n")


def test_depth_scan_of_a_hostile_body_is_linear():
    # An unclosed string of escaped quotes after enough brackets to be scanned: with a string pattern
    # that needed its closing quote, each quote rescanned to the end (a 256 KB body took minutes,
    # holding a function to its timeout). Linear, it takes milliseconds; the bound is generous.
    import time

    body = "[" * (MAX_JSON_DEPTH + 1) + '"' + '\\"' * 128_000
    started = time.perf_counter()
    assert json_depth(body) == MAX_JSON_DEPTH + 1
    assert time.perf_counter() - started < 2.0
    with pytest.raises(BodyRefused):
        parse_json_body(body)
