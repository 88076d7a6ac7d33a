"""Graph state: the tutorial's `messages` list, nothing hidden beside it."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

EDITED_CALL_KEY = "hitl_edited_call"


def add_turn_messages(left: Any, right: Any) -> Any:
    """`add_messages`, except that an AIMessage marked as the edit of one call changes only
    that call of the stored message with its id.

    The calls of one turn are reviewed by parallel tasks, and two of them may each edit
    their own call: each writes the turn's AIMessage with its call edited, in the same
    step. Replaced whole, the last write would undo the other's edit in the history; merged
    by call id (`additional_kwargs[EDITED_CALL_KEY]` names the call), both edits show.
    """
    incoming = right if isinstance(right, list) else [right]
    if not any(_edit_of(m) for m in incoming):
        return add_messages(left, right)
    stored = {
        m.id: m for m in (left if isinstance(left, list) else [left]) if isinstance(m, AIMessage) and m.id
    }
    merged: list[Any] = []
    for message in incoming:
        call_id = _edit_of(message)
        if call_id is not None:
            assert isinstance(message, AIMessage)
            message = _merge_edit(stored.get(message.id or ""), message, call_id)
        if isinstance(message, AIMessage) and message.id:
            stored[message.id] = message
        merged.append(message)
    return add_messages(left, merged)


def _edit_of(message: Any) -> str | None:
    if isinstance(message, AIMessage):
        call_id = message.additional_kwargs.get(EDITED_CALL_KEY)
        return call_id if isinstance(call_id, str) else None
    return None


def _merge_edit(base: BaseMessage | None, edit: AIMessage, call_id: str) -> AIMessage:
    kwargs = {k: v for k, v in edit.additional_kwargs.items() if k != EDITED_CALL_KEY}
    if not isinstance(base, AIMessage):  # nothing to merge into: the edit stands as written
        return edit.model_copy(update={"additional_kwargs": kwargs})
    edited = [c for c in edit.tool_calls if c.get("id") == call_id]
    calls = [edited[0] if edited and c.get("id") == call_id else c for c in base.tool_calls]
    return base.model_copy(update={"tool_calls": calls})


class AgentState(TypedDict):
    """Conversation state; `add_messages` replaces a message that reuses an id.

    That replacement is what lets `update_state` edit a pending tool call, and lets
    the gate store the AIMessage with the args that really ran after an edit (merged per
    call when a turn's calls are reviewed in parallel: `add_turn_messages`).
    """

    messages: Annotated[list[AnyMessage], add_turn_messages]
