"""Request and response bodies of the HTTP API."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

MAX_MESSAGE = 20_000
MAX_THREAD_ID = 200


# Printable: no C0/C1 controls, no line or paragraph separators, no invisible format characters
# (soft hyphen, zero-width, bidi marks and overrides, BOM), no private-use or noncharacters.
# The same pattern is the OpenAPI schema, so clients can check before they send.
THREAD_ID_PATTERN = (
    r"^[^\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f"
    r"\u2028-\u202e\u2060-\u206f\ue000-\uf8ff\ufeff\ufff0-\uffff\U000e0000-\U0010ffff]{1,200}$"
)
_THREAD_ID = re.compile(THREAD_ID_PATTERN)


def check_thread_id(value: str) -> str:
    """One rule for thread ids in bodies, paths and queries: 1-200 printable characters."""
    if not 1 <= len(value) <= MAX_THREAD_ID:
        raise ValueError(f"a thread id has 1-{MAX_THREAD_ID} characters, this one {len(value)}")
    if not _THREAD_ID.match(value):
        bad = next(c for c in value if not _THREAD_ID.match(c))
        raise ValueError(
            f"a thread id must be printable: U+{ord(bad):04X} at position {value.index(bad)} is a "
            "control, separator, invisible format or private-use character"
        )
    return value


ThreadIdText = Annotated[
    str,
    AfterValidator(check_thread_id),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_THREAD_ID, "pattern": THREAD_ID_PATTERN}
    ),
]


def check_search(value: str) -> str:
    """A search (`q=`) follows the thread id's rule: 1-200 printable characters (a NUL or a
    lone control character would be refused by the database, not matched)."""
    if not 1 <= len(value) <= MAX_THREAD_ID or not _THREAD_ID.match(value):
        raise ValueError(f"a search is 1-{MAX_THREAD_ID} printable characters")
    return value


SearchText = Annotated[
    str,
    AfterValidator(check_search),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_THREAD_ID, "pattern": THREAD_ID_PATTERN}
    ),
]


def _encodable(value: Any, where: str = "body") -> None:
    """Refuse text that is not Unicode (a lone surrogate from JSON's "\\ud800"): it cannot be
    stored or hashed, and would fail deep inside as a 500."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{where} contains a lone surrogate (U+{ord(value[exc.start]):04X}): send valid UTF-8 text"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _encodable(key, f"a key in {where}")
            _encodable(item, f"{where}.{key}" if isinstance(key, str) and key.isprintable() else where)
    elif isinstance(value, list | tuple):
        for item in value:
            _encodable(item, where)


class UnicodeBody(BaseModel):
    """A body whose every string (keys too) is valid Unicode, or a 422 naming where."""

    @model_validator(mode="before")
    @classmethod
    def _text_is_unicode(cls, data: Any) -> Any:
        _encodable(data)
        return data


class _Body(UnicodeBody):
    model_config = ConfigDict(extra="forbid")


class ChatRequest(_Body):
    """The tutorial's `InvokeRequest`."""

    thread_id: ThreadIdText = Field(min_length=1, max_length=MAX_THREAD_ID)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)


class ChatResponse(BaseModel):
    response: str
    pending_approval: bool
    pending_action: dict[str, Any] | None = None


class ApproveRequest(_Body):
    """The tutorial's `ApprovalRequest`."""

    thread_id: ThreadIdText = Field(min_length=1, max_length=MAX_THREAD_ID)
    approved: bool
    reason: str | None = Field(default=None, max_length=MAX_MESSAGE)


class RunCreate(_Body):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)


class DecisionBody(_Body):
    """`approve`, `edit` (with `args`), `reject` (with `reason`), `respond` (with `message`);
    `answer` (with `value`) for questions; `continue` / `cancel` for breakpoints."""

    type: Literal["approve", "edit", "reject", "respond", "answer", "continue", "cancel"]
    args: dict[str, Any] | None = None
    reason: str | None = Field(default=None, max_length=MAX_MESSAGE)
    message: str | None = Field(default=None, max_length=MAX_MESSAGE)
    value: Any = None


class StateUpdate(_Body):
    values: dict[str, Any]
    as_node: str | None = None


class Problem(BaseModel):
    """Every error: `detail` says what happened and what to do (a list for body validation)."""

    detail: str | list[Any]


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        400: "The body is not parseable JSON",
        401: "No valid credential: send a bearer token or log in",
        403: "Authenticated, but the policy does not allow this",
        404: "No such thread, run or approval",
        409: "Already decided, or nothing to decide",
        422: "The request does not fit (body validation, or a decision the request cannot take)",
        429: "Too many decisions from this identity; see Retry-After",
    }.items()
}
# FastAPI's own body limit answers in plain text, before any route runs.
PROBLEM_RESPONSES[413] = {
    "description": "Request body over auth.max_body_bytes (HITL_AUTH__MAX_BODY_BYTES)",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


ThreadId = Annotated[ThreadIdText, Path(min_length=1, max_length=MAX_THREAD_ID)]
