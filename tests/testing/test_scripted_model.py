"""The scripted chat model: replies in order, and its prompt log stays bounded."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from langgraph_ollama_local.testing import ScriptedChatModel


def test_responses_in_order_then_the_last_one_repeats():
    model = ScriptedChatModel(responses=[AIMessage("one"), AIMessage("two")])
    assert [model.invoke(f"q{i}").content for i in range(4)] == ["one", "two", "two", "two"]
    assert [c[0].content for c in model.calls] == ["q0", "q1", "q2", "q3"]


def test_prompt_log_keeps_only_the_latest_and_is_shared_with_bound_copies():
    model = ScriptedChatModel(responses=[AIMessage("a"), AIMessage("b"), AIMessage("c")], keep_calls=2)
    bound = model.bind_tools([])
    replies = [bound.invoke([HumanMessage(f"q{i}")]).content for i in range(5)]
    assert replies == ["a", "b", "c", "c", "c"]  # order counts every call, not the kept ones
    assert [c[0].content for c in model.calls] == ["q3", "q4"]
