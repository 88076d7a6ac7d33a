"""Graph nodes: the model turn, the routing, and the gated tool executor."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool

from langgraph_ollama_local.agent.state import AgentState
from langgraph_ollama_local.approvals.gate import (
    HITL_METADATA_KEY,
    MAX_ARGS_DEPTH,
    ReviewOutcome,
    args_problem,
    review_tool_calls,
)
from langgraph_ollama_local.approvals.policy import ApprovalPolicy

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant with tools. When the user asks for an action a tool can "
    "do, call that tool with complete arguments. Some actions need a human's approval; if a "
    "tool result says an action was rejected or not run, do not try it again — tell the "
    "user what happened."
)


def last_ai_message(messages: Sequence[BaseMessage]) -> AIMessage | None:
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return message
    return None


def pending_tool_calls(state: Mapping[str, Any]) -> AIMessage | None:
    """The last message if it is an AIMessage that still waits for its tool results."""
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    return last if isinstance(last, AIMessage) and last.tool_calls else None


def should_continue(state: AgentState) -> Literal["tools", "end"]:
    """The tutorial's router: to the tools while the model asks for them, else end."""
    return "tools" if pending_tool_calls(state) else "end"


def after_tools(state: AgentState) -> Literal["agent", "end"]:
    """Back to the model, unless the gate closed the turn (an AIMessage came last)."""
    messages = state["messages"]
    return "end" if messages and isinstance(messages[-1], AIMessage) else "agent"


def make_agent_node(
    model: BaseChatModel | Runnable[LanguageModelInput, BaseMessage],
    tools: Sequence[BaseTool],
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
) -> Runnable[AgentState, dict[str, Any]]:
    """The model turn. Tools are bound here so the model sees their schemas."""
    bound: Runnable[LanguageModelInput, BaseMessage] = (
        model.bind_tools(list(tools)) if tools and isinstance(model, BaseChatModel) else model
    )

    def prompt(state: AgentState) -> list[AnyMessage]:
        messages: list[AnyMessage] = list(state["messages"])
        if system_prompt and not (messages and isinstance(messages[0], SystemMessage)):
            messages.insert(0, SystemMessage(content=system_prompt))
        return messages

    def agent(state: AgentState) -> dict[str, Any]:
        return {"messages": [storable_reply(bound.invoke(prompt(state)))]}

    async def aagent(state: AgentState) -> dict[str, Any]:
        return {"messages": [storable_reply(await bound.ainvoke(prompt(state)))]}

    return RunnableLambda(agent, afunc=aagent, name="agent")


def storable_reply(message: BaseMessage) -> BaseMessage:
    """The model's reply, with tool calls too deeply nested to checkpoint set aside.

    Such arguments would crash the checkpointer before the gate could refuse them,
    failing the run; as `invalid_tool_calls` they stay visible and never run.
    """
    if not isinstance(message, AIMessage) or not message.tool_calls:
        return message
    keep: list[ToolCall] = []
    invalid: list[InvalidToolCall] = list(message.invalid_tool_calls)
    for call in message.tool_calls:
        if _too_deep(call.get("args")):
            invalid.append(
                InvalidToolCall(
                    name=call.get("name"),
                    args=None,
                    id=call.get("id"),
                    error=f"arguments nested more than {MAX_ARGS_DEPTH} levels deep; not run",
                    type="invalid_tool_call",
                )
            )
        else:
            keep.append(call)
    if len(keep) == len(message.tool_calls):
        return message
    update: dict[str, Any] = {"tool_calls": keep, "invalid_tool_calls": invalid}
    if not keep and not message.content:  # the turn ends here: say why, not nothing
        update["content"] = (
            f"I could not use my tool call: its arguments were nested more than {MAX_ARGS_DEPTH} "
            "levels deep, so nothing was run."
        )
    return message.model_copy(update=update)


def _too_deep(args: Any) -> bool:
    problem = args_problem(args)
    return problem is not None and "nested" in problem


class GatedToolExecutor:
    """Runs a turn's tool calls after the approval gate has reviewed all of them."""

    def __init__(self, tools: Sequence[BaseTool], policy: ApprovalPolicy) -> None:
        self.tools_by_name = {t.name: t for t in tools}
        if len(self.tools_by_name) != len(tools):
            raise ValueError("two tools share a name; tool names must be unique")
        policy.check_tools(self.tools_by_name)
        self.policy = policy

    def review(self, state: AgentState) -> tuple[AIMessage | None, list[ReviewOutcome]]:
        message = pending_tool_calls(state)
        if message is None:
            return None, []
        outcomes = review_tool_calls(
            message.tool_calls, self.policy, self.tools_by_name, history=state["messages"]
        )
        return message, outcomes

    def __call__(self, state: AgentState) -> dict[str, Any]:
        message, outcomes = self.review(state)
        if message is None:
            return {"messages": []}
        results = [self._run(o) if o.status == "run" else _answer(o) for o in outcomes]
        return {"messages": _turn_messages(message, outcomes, results)}

    async def ainvoke(self, state: AgentState) -> dict[str, Any]:
        message, outcomes = self.review(state)
        if message is None:
            return {"messages": []}
        results = await asyncio.gather(
            *(self._arun(o) if o.status == "run" else _aanswer(o) for o in outcomes)
        )
        return {"messages": _turn_messages(message, outcomes, list(results))}

    def as_runnable(self, name: str = "tools") -> Runnable[AgentState, dict[str, Any]]:
        return RunnableLambda(self.__call__, afunc=self.ainvoke, name=name)

    def _run(self, outcome: ReviewOutcome) -> ToolMessage:
        tool = self.tools_by_name[outcome.tool_call["name"]]
        try:
            result = tool.invoke(_invocation(outcome))
        except Exception as exc:  # a failing tool must not kill the conversation
            return _failed(outcome, exc)
        return _tagged(_as_tool_message(result, outcome), outcome)

    async def _arun(self, outcome: ReviewOutcome) -> ToolMessage:
        tool = self.tools_by_name[outcome.tool_call["name"]]
        try:
            result = await tool.ainvoke(_invocation(outcome))
        except Exception as exc:
            return _failed(outcome, exc)
        return _tagged(_as_tool_message(result, outcome), outcome)


def _invocation(outcome: ReviewOutcome) -> ToolCall:
    """Exactly the reviewed call, always shaped as a ToolCall (never taken as raw input)."""
    call = outcome.tool_call
    return ToolCall(name=call["name"], args=dict(call["args"]), id=call["id"], type="tool_call")


def _as_tool_message(result: Any, outcome: ReviewOutcome) -> ToolMessage:
    if isinstance(result, ToolMessage):
        return result
    return ToolMessage(
        content=str(result), name=outcome.tool_call["name"], tool_call_id=outcome.tool_call["id"]
    )


def _tagged(message: ToolMessage, outcome: ReviewOutcome) -> ToolMessage:
    message.response_metadata = {**message.response_metadata, HITL_METADATA_KEY: outcome.metadata()}
    return message


def _failed(outcome: ReviewOutcome, exc: Exception) -> ToolMessage:
    message = ToolMessage(
        content=f"The {outcome.tool_call['name']} tool failed: {type(exc).__name__}: {exc}",
        name=outcome.tool_call["name"],
        tool_call_id=outcome.tool_call["id"],
        status="error",
    )
    return _tagged(message, outcome)


def _answer(outcome: ReviewOutcome) -> ToolMessage:
    """The ToolMessage for a call that did not run: rejected, denied, blocked, answered."""
    message = ToolMessage(
        content=outcome.message or "",
        name=outcome.tool_call["name"],
        tool_call_id=outcome.tool_call["id"],
        status="success" if outcome.status == "responded" else "error",
    )
    return _tagged(message, outcome)


async def _aanswer(outcome: ReviewOutcome) -> ToolMessage:
    return _answer(outcome)


def _turn_messages(
    message: AIMessage, outcomes: list[ReviewOutcome], results: list[ToolMessage]
) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    if [o.tool_call for o in outcomes] != list(message.tool_calls):
        # Same id: add_messages replaces the stored call with the one really reviewed (edited
        # args, or a stand-in id), so every ToolMessage answers a call in the history.
        out.append(message.model_copy(update={"tool_calls": [o.tool_call for o in outcomes]}))
    out.extend(results)
    closing = [o.message for o in outcomes if o.ends_turn and o.message]
    if closing:
        out.append(AIMessage(content="I stopped here. " + " ".join(dict.fromkeys(closing))))
    return out
