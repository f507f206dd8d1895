"""Highlight (Haven OnDemand's `highlight`, v1): wraps the terms of `highlight_expression` in tags.

What a match is, since Haven documented it loosely: `highlight_expression` is a comma-separated
list of terms (words or phrases); each matches case-insensitively as whole words (`link` does not
match inside `links`), and the words of a phrase match across any run of whitespace. Overlapping
terms: the longest match at a position wins; matches never nest.

Escaping: `text` is plain text. `<`, `>` and `&` in it are escaped (`&lt;` ...) so that the result
is safe to insert into an HTML page whatever the text holds; only the tags this action adds are
markup. `start_tag` and `end_tag` are the caller's own and inserted as given.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from asyncjobs.actions.base import ActionFailed, ActionInput, JobContext

MAX_TERMS = 100


class HighlightInput(ActionInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "a fast job", "highlight_expression": "fast"}]}
    )
    text: str = Field(min_length=1, max_length=500_000, description="Plain text to highlight in.")
    highlight_expression: str = Field(
        min_length=1,
        max_length=2000,
        description="Comma-separated words or phrases; each matches case-insensitively as whole words.",
    )
    start_tag: str = Field('<span class="highlight">', max_length=200, description="Inserted before a match.")
    end_tag: str = Field("</span>", max_length=200, description="Inserted after a match.")

    @field_validator("highlight_expression")
    @classmethod
    def _has_terms(cls, value: str) -> str:
        terms = split_terms(value)
        if not terms:
            raise ValueError("must name at least one word or phrase")
        if len(terms) > MAX_TERMS:
            raise ValueError(f"names {len(terms)} terms; the limit is {MAX_TERMS}")
        return value


def split_terms(expression: str) -> list[str]:
    return [t for t in (part.strip() for part in expression.split(",")) if t]


def _term_pattern(term: str) -> str:
    body = r"\s+".join(re.escape(word) for word in term.split())
    # \b only next to a word character: a term like "c++" or "#tag" still matches where it stands.
    start = r"\b" if re.match(r"\w", term) else ""
    end = r"\b" if re.search(r"\w$", term) else ""
    return f"{start}{body}{end}"


# A text full of short matches with long tags would grow the result (and memory) ~100-fold; past
# this many matches the job fails at once instead of being killed for memory and retried.
MAX_MATCHES = 20_000


def highlight(text: str, expression: str, start_tag: str, end_tag: str) -> str:
    terms = sorted(set(split_terms(expression)), key=len, reverse=True)  # longest first wins
    pattern = re.compile("|".join(_term_pattern(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for n, match in enumerate(pattern.finditer(text)):
        if n == MAX_MATCHES:
            raise ActionFailed(
                "too_many_matches", f"The terms match more than {MAX_MATCHES} times; narrow them down."
            )
        if match.end() == match.start():
            continue
        out += [html.escape(text[last : match.start()], quote=False), start_tag]
        out += [html.escape(match.group(), quote=False), end_tag]
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def run(inputs: HighlightInput, ctx: JobContext) -> dict[str, Any]:
    # An object, not a bare string: Haven's public client calls `.get` on a sync response body.
    return {"text": highlight(inputs.text, inputs.highlight_expression, inputs.start_tag, inputs.end_tag)}
