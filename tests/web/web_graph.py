"""Graphs for `hitl serve --graph` in the browser tests (scripted test-double models).

- `graph`: the email assistant plus a typed `transfer` tool (integer, enum, boolean, optional
  string: the edit form's types) and deadlines: `get_weather` 60 s, `send_email` 1 h,
  `transfer` none — so the inbox order is by deadline, not by arrival. A message with
  "crash" in it makes the model raise (the run fails).
- `streaming`: the email assistant whose replies stream word by word (`message.delta`).
- `timed`: `send_email` with a 2 s stage timeout, rejected (expired) by the sweeper.
- `breakpoints`: plan → act, paused before `act` (a breakpoint request: continue / cancel).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph

from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, build_workflow
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.agent.state import AgentState
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from langgraph_ollama_local.testing.scripted_model import tool_call

DECISIONS = ["approve", "edit", "reject", "respond"]


@tool
def transfer(amount: int, currency: Literal["EUR", "USD"], urgent: bool = False, note: str | None = None) -> str:
    """Transfer money to the supplier account."""
    return f"transferred {amount} {currency}{' (urgent)' if urgent else ''}"


def script(messages: Sequence[BaseMessage]) -> AIMessage:
    last = messages[-1]
    if isinstance(last, HumanMessage) and "crash" in str(last.content).lower():
        raise RuntimeError("the scripted model crashed, as asked")  # the run fails: an `error` thread
    if isinstance(last, HumanMessage) and "transfer" in str(last.content).lower():
        return AIMessage(content="", tool_calls=[
            tool_call("transfer", {"amount": 120, "currency": "EUR", "urgent": False, "note": str(last.content)})])
    return email_assistant_script(messages)


class StreamingScriptedModel(ScriptedChatModel):
    """The scripted model, streamed a word at a time (as Ollama or llama.cpp would)."""

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        reply = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        if reply.tool_calls or not isinstance(reply.content, str):
            yield ChatGenerationChunk(message=AIMessageChunk(content=reply.content, tool_call_chunks=[
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                for i, c in enumerate(reply.tool_calls)]))
            return
        words = reply.content.split(" ")
        for index, word in enumerate(words):
            time.sleep(0.15)
            piece = word if index == len(words) - 1 else word + " "
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))  # core reports each token


tools = [*default_tools(LocalAgentConfig()), transfer]

# One reviewer edits and approves in these tests: an edit is that reviewer's approval (under
# separation of duties an edited call would go to someone else; tests/server/test_security.py).
policy = ApprovalPolicy.from_mapping({"default": "allow", "access": {"self_approval": True}, "tools": {
    "send_email": {"allowed_decisions": DECISIONS, "stages": [{"role": "approver", "timeout_seconds": 3600}]},
    "get_weather": {"allowed_decisions": DECISIONS, "stages": [{"role": "approver", "timeout_seconds": 60}]},
    "transfer": {"allowed_decisions": DECISIONS, "stages": [{"role": "finance"}]},
}})
graph = build_workflow(ScriptedChatModel(script=script), tools, policy=policy).compile()

streaming = build_workflow(
    StreamingScriptedModel(script=email_assistant_script), default_tools(LocalAgentConfig()),
    policy=ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {"allowed_decisions": DECISIONS}}}),
).compile()

timed = build_workflow(
    ScriptedChatModel(script=email_assistant_script), default_tools(LocalAgentConfig()),
    policy=ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {
        "allowed_decisions": DECISIONS, "stages": [{"role": "approver", "timeout_seconds": 2}]}}}),
).compile()


def invented_recipient(messages: Sequence[BaseMessage]) -> AIMessage:
    """Emails an address the user never wrote (as a small model does for "Good morning!")."""
    if isinstance(messages[-1], HumanMessage):
        return AIMessage(content="", tool_calls=[
            tool_call("send_email", {"to": "someone@invented.example", "subject": "Hi", "body": "Hello"})])
    return AIMessage(content="ok")


# `flag`: the gate asks anyway, with the ungrounded recipient flagged on the card.
flagged = build_workflow(
    ScriptedChatModel(script=invented_recipient), default_tools(LocalAgentConfig()),
    policy=ApprovalPolicy.from_mapping({"default": "allow", "provenance": {"send_email": "flag"},
                                        "tools": {"send_email": {"allowed_decisions": DECISIONS}}}),
).compile()


def plan(state: AgentState) -> dict[str, Any]:
    return {"messages": [AIMessage(content="Planned the change.")]}


def act(state: AgentState) -> dict[str, Any]:
    return {"messages": [AIMessage(content="Acted on the plan.")]}


_steps = StateGraph(AgentState)
_steps.add_node("plan", plan)
_steps.add_node("act", act)
_steps.add_edge(START, "plan")
_steps.add_edge("plan", "act")
_steps.add_edge("act", END)
breakpoints = _steps.compile(interrupt_before=["act"])


# `two_stage`: send_email needs an approver (escalated to `director` after an hour), then
# finance: two different people, never the requester (with the strict policy's access rules).
two_stage = build_workflow(
    ScriptedChatModel(script=email_assistant_script), default_tools(LocalAgentConfig()),
    policy=ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {
        "allowed_decisions": DECISIONS, "stages": [
            {"name": "manager", "role": "approver", "timeout_seconds": 3600, "on_timeout": "escalate",
             "escalate_to": "director"},
            {"name": "finance", "role": "finance"}]}}}),
).compile()
