"""Extract text (Haven OnDemand's `extracttext`, v1): the text of an uploaded file.

Formats, told apart by content, not by name or declared type (a caller's content type is often
`application/octet-stream`): a PDF (it starts with `%PDF`) through pypdf, page by page; UTF-8 text
as is (a byte-order mark dropped). Anything else fails `unsupported_file` rather than returning
garbage. Result: `{"document": [{"content", "content_type", "pages"}]}`, one entry per file, as
Haven returned a `document` list; `pages` is null for plain text.
"""

from __future__ import annotations

from typing import Any

from asyncjobs.actions.base import ActionFailed, ActionInput, FileId, JobContext

PDF_MAGIC = b"%PDF"


class ExtractTextInput(ActionInput):
    file: FileId


def _pdf_text(data: bytes) -> dict[str, Any]:
    # Imported here: only this action pays for pypdf, not every cold start of the run function.
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ActionFailed("unsupported_file", "The PDF is encrypted; send it without a password.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ActionFailed:
        raise
    except PdfReadError as exc:
        raise ActionFailed(
            "unsupported_file", f"The file looks like a PDF but cannot be read: {exc}"
        ) from exc
    except Exception as exc:
        # pypdf parses the caller's bytes: on a malformed file it also raises ValueError, KeyError,
        # IndexError, AttributeError... Any of them is about the file, not a fault of the service.
        raise ActionFailed(
            "unsupported_file", f"The file looks like a PDF but cannot be read ({type(exc).__name__})."
        ) from exc
    return {
        "content": "\n\n".join(p.strip() for p in pages),
        "content_type": "application/pdf",
        "pages": len(pages),
    }


def extract_text(data: bytes) -> dict[str, Any]:
    """One `document` entry for the file's bytes, or ActionFailed `unsupported_file`."""
    if data.startswith(PDF_MAGIC):
        return _pdf_text(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ActionFailed(
            "unsupported_file", "The file is neither a PDF nor UTF-8 text; only those can be read."
        ) from exc
    if "\x00" in text:  # valid UTF-8 but binary (UTF-16 text, images with few high bytes)
        raise ActionFailed(
            "unsupported_file", "The file is binary, not text; only PDF and UTF-8 text are read."
        )
    return {"content": text.removeprefix("\ufeff"), "content_type": "text/plain", "pages": None}


# The executor has 512 MB: the file, pypdf's parse and the text (kept, then serialised) each hold
# a copy or more, so a file is read only up to this size (a larger one fails `file_too_large` at
# once instead of being retried after an out-of-memory kill).
MAX_EXTRACT_BYTES = 25 * 1024 * 1024


def run(inputs: ExtractTextInput, ctx: JobContext) -> dict[str, Any]:
    data = ctx.read_file(inputs.file, max_bytes=MAX_EXTRACT_BYTES)
    ctx.check_cancelled()
    return {"document": [extract_text(data)]}
