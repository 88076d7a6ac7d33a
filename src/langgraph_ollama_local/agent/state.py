"""Graph state: the tutorial's `messages` list, nothing hidden beside it."""

from __future__ import annotations

from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class AgentState(TypedDict):
    """Conversation state; `add_messages` replaces a message that reuses an id.

    That replacement is what lets `update_state` edit a pending tool call, and lets
    the gate store the AIMessage with the args that really ran after an edit.
    """

    messages: Annotated[list[AnyMessage], add_messages]
