"""Test doubles for approval flows: a deterministic chat model stands in for the LLM.

A real model is not deterministic, so approval-flow tests (ours and yours) script it.
"""

from langgraph_ollama_local.testing.scripted_model import (
    ScriptedChatModel,
    email_assistant_script,
    tool_call,
)

__all__ = ["ScriptedChatModel", "email_assistant_script", "tool_call"]
