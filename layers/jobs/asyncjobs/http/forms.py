"""HTML forms in API Gateway HTTP API (payload 2.0) events: multipart/form-data (fields and files)
and application/x-www-form-urlencoded, parsed whole (the event holds the whole body anyway).

Limits: Lambda takes at most 6 MB per synchronous event, and API Gateway base64-encodes a binary
body (4 bytes per 3), so a form of more than ~4.5 MB cannot reach a function at all; larger files
go to S3 with an upload form (`POST /v2/tenants/{tenant_id}/files`). Every problem is a 4xx
`FormRefused` naming it, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from asyncjobs.errors import InvalidRequest

# Largest form body, decoded. Base64 makes it 5.87 MB of the event's 6 MB (6,291,456 bytes),
# leaving ~420 KB for the rest of the event (headers, request context).
MAX_FORM_BYTES = 4_400_000
# Most fields and files (parts) in one form: each costs a little parsing and bookkeeping, and no
# form needs more.
MAX_FORM_PARTS = 256
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"


class FormRefused(InvalidRequest):
    """A form the service will not read (422 unless a subclass says otherwise)."""

    code = "invalid_form"


class MalformedForm(FormRefused):
    status = 400
    code = "malformed_form"


class FormTooLarge(FormRefused):
    status = 413
    code = "payload_too_large"


class UnsupportedForm(FormRefused):
    status = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Form:
    """Every value of every field, in the order sent (a field may repeat)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        """The field's first value, if sent."""
        values = self.fields.get(name)
        return values[0] if values else None


def parse_form(event: dict[str, Any]) -> Form:
    """The form in the event's body. An empty body is an empty form, whatever its content type.
    Raises FormRefused: FormTooLarge (over MAX_FORM_BYTES or MAX_FORM_PARTS), UnsupportedForm
    (neither form type), MalformedForm (bad base64, multipart structure, or text that is not UTF-8)."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if not body:
        return Form()
    # Refused before decoding: a body far over the limit is never copied.
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body)
    if size > MAX_FORM_BYTES:
        raise _too_large(size)
    data = _body_bytes(body, bool(event.get("isBase64Encoded")))
    if len(data) > MAX_FORM_BYTES:
        raise _too_large(len(data))

    # Lazily imported: only a request that carries a form pays for loading the parser.
    from python_multipart.multipart import parse_options_header

    media_type, params = parse_options_header(headers.get("content-type", "").encode("latin-1", "replace"))
    if media_type == MULTIPART.encode():
        boundary = params.get(b"boundary")
        if not boundary:
            raise MalformedForm("The multipart/form-data Content-Type has no `boundary` parameter.")
        return _multipart(data, boundary)
    if media_type == URLENCODED.encode():
        return _urlencoded(data)
    shown = media_type.decode("latin-1")[:100] or "none"
    raise UnsupportedForm(f"Send the form as {MULTIPART} or {URLENCODED} (Content-Type: {shown}).")


def _too_large(size: int) -> FormTooLarge:
    return FormTooLarge(
        f"The form is {size} bytes; the limit is {MAX_FORM_BYTES} bytes. Upload larger files first "
        "(POST /v2/tenants/{tenant_id}/files) and name them by file id."
    )


def _body_bytes(body: str, is_base64: bool) -> bytes:
    if not is_base64:
        # API Gateway passes a body as text only when it is valid UTF-8: this gives its bytes back.
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: only a hand-made event can carry one
            raise MalformedForm("The request body is not UTF-8 text; send it base64-encoded.") from None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedForm("The request body is marked base64-encoded but is not valid base64.") from exc


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedForm(f"{what} is not UTF-8 text.") from None


def _urlencoded(data: bytes) -> Form:
    # The standard library's decoder: the body is already in memory, so python-multipart's
    # streaming QuerystringParser would add nothing but a dependency to reason about.
    try:
        pairs = parse_qsl(
            _text(data, "The form"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_PARTS,
        )
    except UnicodeDecodeError:
        raise MalformedForm("A percent-encoded value of the form is not UTF-8 text.") from None
    except ValueError:  # max_num_fields
        raise FormTooLarge(f"The form has more than {MAX_FORM_PARTS} fields.") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return Form(fields=fields)


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)


def _multipart(data: bytes, boundary: bytes) -> Form:
    # python-multipart (the parser behind Starlette), not the standard library's `email`: `email`
    # is built to read any mail, so it accepts a body cut short or a part without headers without
    # a word, while this parser reports broken structure and bounds header counts and sizes.
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser

    # The parser also logs each error it raises; the caller is told, so the log would only repeat it.
    logging.getLogger(MultipartParser.__module__).setLevel(logging.ERROR)
    parts: list[_Part] = []
    current = _Part()
    header = [b"", b""]
    ended = []

    def on_part_begin() -> None:
        nonlocal current
        if len(parts) >= MAX_FORM_PARTS:
            raise FormTooLarge(f"The form has more than {MAX_FORM_PARTS} fields and files.")
        current = _Part()

    def on_header_field(buf: bytes, start: int, end: int) -> None:
        header[0] += buf[start:end]

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        header[1] += buf[start:end]

    def on_header_end() -> None:
        # Header bytes as latin-1 (one char per byte, as HTTP servers read them); names and
        # file names sent as UTF-8 are decoded as such below.
        current.headers[header[0].decode("latin-1").strip().lower()] = header[1].decode("latin-1").strip()
        header[0] = header[1] = b""

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        current.chunks.append(buf[start:end])

    def on_part_end() -> None:
        parts.append(current)

    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": on_part_begin,
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
                "on_end": lambda: ended.append(True),
            },
        )
        parser.write(data)
        parser.finalize()
    except FormParserError as exc:
        raise MalformedForm(f"The multipart/form-data body is malformed: {str(exc).rstrip('.')}.") from None
    if not ended:
        raise MalformedForm("The multipart/form-data body ends before its closing boundary.")
    return _form(parts)


def _form(parts: list[_Part]) -> Form:
    from python_multipart.multipart import parse_options_header

    fields: dict[str, list[str]] = {}
    files: dict[str, list[UploadedFile]] = {}
    for n, part in enumerate(parts, 1):
        disposition, options = parse_options_header(part.headers.get("content-disposition", ""))
        if disposition != b"form-data" or b"name" not in options:
            raise MalformedForm(
                f"Part {n} of the form has no `Content-Disposition: form-data; name=...` header."
            )
        name = _header_text(options[b"name"])
        data = b"".join(part.chunks)
        if b"filename" in options:
            content_type = part.headers.get("content-type") or "application/octet-stream"
            upload = UploadedFile(name, _header_text(options[b"filename"]), content_type, data)
            files.setdefault(name, []).append(upload)
        else:
            fields.setdefault(name, []).append(_text(data, f"Field `{name}`"))
    return Form(fields=fields, files=files)


def _header_text(raw: bytes) -> str:
    # Browsers send non-ASCII names as raw UTF-8 (RFC 7578 4.2); anything else reads as latin-1.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
