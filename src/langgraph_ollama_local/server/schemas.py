"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE = 20_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatRequest(_Body):
    """The tutorial's `InvokeRequest`."""

    thread_id: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)


class ChatResponse(BaseModel):
    response: str
    pending_approval: bool
    pending_action: dict[str, Any] | None = None


class ApproveRequest(_Body):
    """The tutorial's `ApprovalRequest`."""

    thread_id: str = Field(min_length=1, max_length=200)
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
    detail: str
