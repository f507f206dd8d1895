"""parse_form on real form bodies, encoded by requests and urllib3 as clients send them, in
payload-2.0 events built as API Gateway builds them (text, or base64 when the body is binary)."""

from __future__ import annotations

import base64

import pytest
import requests
from urllib3 import encode_multipart_formdata

from asyncjobs.errors import InvalidRequest
from asyncjobs.http.forms import (
    MAX_FORM_BYTES,
    MAX_FORM_PARTS,
    Form,
    FormRefused,
    UploadedFile,
    parse_form,
)
from devstack.lambda_runtime import http_event

PATH = "/1/api/sync/extracttext/v1"


def _event(body: bytes, content_type: str | None, *, force_base64: bool = False) -> dict:
    headers = {"content-type": content_type} if content_type is not None else {}
    event = http_event("POST", PATH, route_key=f"POST {PATH}", headers=headers, body=body)
    if force_base64 and not event["isBase64Encoded"]:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def _requests_form(data: dict, files: list) -> tuple[bytes, str]:
    """The body and Content-Type requests sends for `requests.post(url, data=..., files=...)`."""
    prepared = requests.Request("POST", "http://example.test/", data=data, files=files).prepare()
    return prepared.body, prepared.headers["Content-Type"]


def _refused(event: dict) -> FormRefused:
    with pytest.raises(FormRefused) as caught:
        parse_form(event)
    assert isinstance(caught.value, InvalidRequest)
    return caught.value


BINARY = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n\x00"


def test_fields_and_two_files_in_one_field_with_binary_data():
    # Given a form as requests encodes it: repeated fields, two files under one name, binary bytes
    body, content_type = _requests_form(
        {"apikey": "k-1", "language": ["en", "fr"], "note": "héllo wörld"},
        [
            ("file", ("a.bin", BINARY, "application/octet-stream")),
            ("file", ("b.txt", b"plain text", "text/plain")),
            ("other", ("c.pdf", b"%PDF-1.4", "application/pdf")),
        ],
    )
    event = _event(body, content_type)
    assert event["isBase64Encoded"]  # binary: API Gateway base64-encodes it

    # When it is parsed
    form = parse_form(event)

    # Then every value and file is there, in the order sent, bytes untouched
    assert form.fields == {"apikey": ["k-1"], "language": ["en", "fr"], "note": ["héllo wörld"]}
    assert form.files["file"] == [
        UploadedFile("file", "a.bin", "application/octet-stream", BINARY),
        UploadedFile("file", "b.txt", "text/plain", b"plain text"),
    ]
    assert form.files["other"][0].filename == "c.pdf"
    assert form.value("language") == "en" and form.value("missing") is None


def test_a_text_only_multipart_body_arrives_as_text_or_base64_alike():
    body, content_type = encode_multipart_formdata(
        [("text", "Hello"), ("file", ("hello.txt", b"Hello, world", "text/plain"))]
    )
    as_text = _event(body, content_type)
    as_base64 = _event(body, content_type, force_base64=True)
    assert not as_text["isBase64Encoded"] and as_base64["isBase64Encoded"]

    assert parse_form(as_text) == parse_form(as_base64)
    form = parse_form(as_text)
    assert form.fields == {"text": ["Hello"]}
    assert form.files == {"file": [UploadedFile("file", "hello.txt", "text/plain", b"Hello, world")]}


def test_a_file_without_a_type_and_a_non_ascii_file_name():
    # (As browsers send it: the name as raw UTF-8, and here no Content-Type for the part.)
    body = (
        '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="naïve 文件.txt"\r\n'
        "\r\nx\r\n--XyZ--\r\n"
    )

    (upload,) = parse_form(_multipart(body.encode())).files["file"]

    assert upload.filename == "naïve 文件.txt"
    assert upload.content_type == "application/octet-stream"


def test_urlencoded_form():
    prepared = requests.Request(
        "POST", "http://example.test/", data={"text": "a b&c=d", "url": ["x", "y"], "empty": ""}
    ).prepare()

    form = parse_form(_event(prepared.body.encode(), prepared.headers["Content-Type"]))

    assert form == Form(fields={"text": ["a b&c=d"], "url": ["x", "y"], "empty": [""]})


def test_an_empty_body_is_an_empty_form_whatever_its_type():
    assert parse_form(_event(b"", None)) == Form()
    assert parse_form(_event(b"", "multipart/form-data; boundary=x")) == Form()


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "text/plain", "multipart/mixed; boundary=x"]
)
def test_a_body_that_is_not_a_form_is_a_415(content_type):
    error = _refused(_event(b'{"text": "x"}', content_type))

    assert (error.status, error.code) == (415, "unsupported_media_type")
    assert "multipart/form-data" in error.message


def test_header_case_and_parameters_do_not_matter():
    body, content_type = encode_multipart_formdata([("a", "1")])
    event = _event(body, None)
    event["headers"] = {"Content-Type": content_type.replace("multipart/form-data", "Multipart/Form-Data")}

    assert parse_form(event).fields == {"a": ["1"]}


def _multipart(raw: bytes) -> dict:
    return _event(raw, "multipart/form-data; boundary=XyZ")


MALFORMED = {
    "no boundary parameter": _event(b"--XyZ\r\n", "multipart/form-data"),
    "cut before the closing boundary": _multipart(
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue'
    ),
    "no closing boundary at all": _multipart(b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n'),
    "another boundary": _multipart(
        b'--Other\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--Other--\r\n'
    ),
    "a header without a colon": _multipart(b"--XyZ\r\nnot a header\r\n\r\nv\r\n--XyZ--\r\n"),
    "a part without a name": _multipart(b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--\r\n"),
    "a part without headers": _multipart(b"--XyZ\r\n\r\nv\r\n--XyZ--\r\n"),
    "a field that is not UTF-8": _multipart(
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\xfe\r\n--XyZ--\r\n'
    ),
    "a boundary over 256 characters": _event(b"--x\r\n", "multipart/form-data; boundary=" + "b" * 300),
    "invalid base64": {**_multipart(b"x"), "body": "!!!not base64!!!", "isBase64Encoded": True},
    "urlencoded with a bad escape": _event(b"a=%ff%fe", "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_body_is_a_400_saying_what_is_wrong(case):
    error = _refused(MALFORMED[case])

    assert (error.status, error.code) == (400, "malformed_form"), error.message
    assert error.message.endswith(".") and len(error.message) < 300


def test_a_body_over_the_limit_is_a_413_whether_text_or_base64():
    big = b"a=" + b"x" * MAX_FORM_BYTES
    for event in (
        _event(big, "application/x-www-form-urlencoded"),
        _event(big, "application/x-www-form-urlencoded", force_base64=True),
    ):
        error = _refused(event)
        assert (error.status, error.code) == (413, "payload_too_large")
        assert str(MAX_FORM_BYTES) in error.message


def test_a_file_just_under_the_limit_is_read():
    data = b"\x00" * (MAX_FORM_BYTES - 1000)
    body, content_type = encode_multipart_formdata([("file", ("big.bin", data))])

    (upload,) = parse_form(_event(body, content_type)).files["file"]

    assert upload.data == data


def test_too_many_parts_is_a_413():
    fields = [(f"f{i}", "v") for i in range(MAX_FORM_PARTS + 1)]
    multipart = encode_multipart_formdata(fields)
    urlencoded = requests.Request("POST", "http://example.test/", data=fields).prepare()

    for event in (_event(*multipart), _event(urlencoded.body.encode(), urlencoded.headers["Content-Type"])):
        error = _refused(event)
        assert (error.status, error.code) == (413, "payload_too_large")
    assert (
        len(parse_form(_event(*encode_multipart_formdata(fields[:MAX_FORM_PARTS]))).fields) == MAX_FORM_PARTS
    )
