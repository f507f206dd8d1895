"""The Webhooks API's request bodies (pydantic models). Loaded by the first route that reads a
body (see `asyncjobs.http.lazy`): the routes that read none, a first list or get among them, do
without pydantic (~65 ms of a cold start)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asyncjobs.http.v2.webhooks import DELIVERY_ID_PATTERN
from asyncjobs.webhooks.models import EVENT_TYPES, MAX_ROTATION_OVERLAP_S

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# RFC 9110 field-value, ASCII only: visible characters, with spaces and tabs inside (no CR/LF,
# no other control character, nothing non-ASCII: http.client could not send it).
_HEADER_VALUE = re.compile(r"^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$")
_RESERVED = {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoAuth(_Model):
    type: Literal["none"] = "none"


def _encodable(value: str, what: str) -> str:
    """Basic auth is sent as UTF-8 (RFC 7617): no control characters, no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"the {what} is not valid Unicode text") from exc
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"the {what} has a control character")
    return value


class BasicAuth(_Model):
    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=500)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("the username cannot contain ':' (basic auth separates it from the password)")
        return _encodable(value, "username")

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return _encodable(value, "password")


class HeaderAuth(_Model):
    type: Literal["headers"]
    headers: dict[str, str] = Field(min_length=1, max_length=10, description="Secret headers sent as is.")

    @field_validator("headers")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            low = name.lower()
            if not _HEADER_NAME.match(name) or low in _RESERVED or low.startswith("webhook-"):
                raise ValueError(f"header {name!r} cannot be set (invalid or reserved name)")
            if len(header) > 1000 or not _HEADER_VALUE.match(header):
                raise ValueError(
                    f"header {name!r} has an invalid value: use printable ASCII (spaces and tabs"
                    " only inside), at most 1000 characters"
                )
        return value


Auth = Annotated[NoAuth | BasicAuth | HeaderAuth, Field(discriminator="type")]
EventType = Literal["job.succeeded", "job.failed", "job.cancelled"]


class SubscriptionIn(_Model):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://example.com/hooks/jobs", "events": ["job.succeeded", "job.failed"]}]
        },
    )
    url: str = Field(max_length=2000, description="Where events are POSTed (https).")
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    actions: list[str] = Field([], max_length=50, description="Only these actions (default: all).")
    auth: Auth = Field(default_factory=NoAuth)
    description: str = Field("", max_length=500)


class SubscriptionPatch(_Model):
    url: str | None = Field(None, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1, max_length=len(EVENT_TYPES))
    actions: list[str] | None = Field(None, max_length=50)
    auth: Auth | None = None
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None


class RotateIn(_Model):
    overlap_seconds: int = Field(
        86400, ge=0, le=MAX_ROTATION_OVERLAP_S, description="How long the previous secret keeps signing too."
    )


class RecoverIn(_Model):
    since: datetime = Field(
        description="Requeue every failed or exhausted delivery created since then (UTC if no offset is "
        "given), and pending ones over an hour overdue (their message was lost)."
    )
    cursor: str | None = Field(
        None, pattern=DELIVERY_ID_PATTERN, max_length=100, description="`next_cursor` of the previous call."
    )

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        try:
            value.timestamp()
        except (OverflowError, ValueError, OSError) as exc:
            raise ValueError("is out of range") from exc
        return value
