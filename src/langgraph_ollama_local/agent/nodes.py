"""Graph nodes: the model turn, the routing, and the gated tool executor.

The executor answers a turn's calls in one `tools` task (together) or, when the gate's
`plan_turn` lets them go separately, in one `tools` task per call, dispatched with
LangGraph's `Send` by `GatedToolExecutor.dispatch`: then all the turn's interrupts are
pending at once, each is resumed by its own id, and a call whose review is done runs at
once (its task's writes wait in the checkpoint for its siblings') while the others still
wait. Every task is named `tools`, so `interrupt_before=["tools"]` stops them all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

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
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.types import Send

from langgraph_ollama_local.agent.ledger import (
    IDEMPOTENCY_ARG,
    LEDGER_CONFIG_KEY,
    ExecutionLedger,
    ExecutionRecord,
    OutcomeUnknownError,
    RetryableToolError,
    execution_key,
)
from langgraph_ollama_local.agent.state import EDITED_CALL_KEY, AgentState
from langgraph_ollama_local.approvals.gate import (
    HITL_METADATA_KEY,
    MAX_ARGS_DEPTH,
    ReviewOutcome,
    args_problem,
    injected_arg_names,
    plan_turn,
    review_one_call,
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


CALL_TASK_KEY = "hitl_call"


class CallTask(TypedDict):
    """The input of a `tools` task that answers one call of a turn (sent by `dispatch`)."""

    messages: list[AnyMessage]
    hitl_call: dict[str, Any]  # {"index": position in the turn, "id": the tool-call id}


TOOL_RETRY_DELAYS = (0.5, 1.0, 2.0)  # pauses before re-running a call that raised RetryableToolError
_UNKNOWN_KEY = "hitl_outcome_unknown"


class GatedToolExecutor:
    """Runs a turn's tool calls after the approval gate has reviewed all of them.

    With an execution ledger (given here, or by the runtime through
    `config["configurable"]["hitl_execution_ledger"]`), each call that runs is recorded
    before and after it runs, so a node re-run after a crash never repeats an effect
    (see `agent/ledger.py`).
    """

    def __init__(
        self, tools: Sequence[BaseTool], policy: ApprovalPolicy, *, ledger: ExecutionLedger | None = None
    ) -> None:
        self.tools_by_name = {t.name: t for t in tools}
        if len(self.tools_by_name) != len(tools):
            raise ValueError("two tools share a name; tool names must be unique")
        policy.check_tools(self.tools_by_name)
        self.policy = policy
        self.ledger = ledger

    def review(self, state: AgentState | CallTask) -> tuple[AIMessage | None, list[ReviewOutcome]]:
        message = pending_tool_calls(state)
        if message is None:
            return None, []
        ref = state.get(CALL_TASK_KEY)
        if isinstance(ref, Mapping):
            return message, [self._review_own_call(message, ref, state["messages"])]
        outcomes = review_tool_calls(
            message.tool_calls,
            self.policy,
            self.tools_by_name,
            history=state["messages"],
            turn_id=message.id,
        )
        return message, outcomes

    def _review_own_call(
        self, message: AIMessage, ref: Mapping[str, Any], history: Sequence[BaseMessage]
    ) -> ReviewOutcome:
        index = ref.get("index")
        calls = message.tool_calls
        if (
            not isinstance(index, int)
            or not 0 <= index < len(calls)
            or calls[index].get("id") != ref.get("id")
        ):
            # A task whose call is no longer the turn's (state rewritten under it) runs nothing.
            stray = ToolCall(name="", args={}, id=str(ref.get("id") or "call_unknown"), type="tool_call")
            return ReviewOutcome(tool_call=stray, status="blocked", message="This call is no longer pending.")
        return review_one_call(
            calls, index, self.policy, self.tools_by_name, history=history, turn_id=message.id
        )

    def dispatch(self, state: AgentState, node: str = "tools") -> Literal["tools", "end"] | list[Send]:
        """The edge after the model turn: end, one `tools` task for the whole turn, or one
        per call (`Send`) when the gate lets the calls go separately (`plan_turn`).

        A one-call turn always takes the single task, exactly as in the tutorial, so it is
        resumed with a plain `Command(resume=...)`. Each task gets the messages as they are
        now: a state edit before the tools run (`update_state` as the agent) dispatches the
        turn again from the edited state.
        """
        message = pending_tool_calls(state)
        if message is None:
            return "end"
        plan = plan_turn(message.tool_calls, self.policy, self.tools_by_name, history=state["messages"])
        if not plan.separately:
            return "tools"
        return [
            Send(node, {"messages": state["messages"], CALL_TASK_KEY: {"index": index, "id": call["id"]}})
            for index, call in enumerate(message.tool_calls)
        ]

    def __call__(self, state: AgentState | CallTask, config: RunnableConfig) -> dict[str, Any]:
        message, outcomes = self.review(state)
        if message is None:
            return {"messages": []}
        context = _RunContext.of(config, message, self.ledger)
        results = [self._run(o, context) if o.status == "run" else _answer(o) for o in outcomes]
        return {"messages": self._messages(state, message, outcomes, results)}

    async def ainvoke(self, state: AgentState | CallTask, config: RunnableConfig) -> dict[str, Any]:
        message, outcomes = self.review(state)
        if message is None:
            return {"messages": []}
        context = _RunContext.of(config, message, self.ledger)
        results = await asyncio.gather(
            *(self._arun(o, context) if o.status == "run" else _aanswer(o) for o in outcomes)
        )
        return {"messages": self._messages(state, message, outcomes, list(results))}

    @staticmethod
    def _messages(
        state: AgentState | CallTask,
        message: AIMessage,
        outcomes: list[ReviewOutcome],
        results: list[ToolMessage],
    ) -> list[BaseMessage]:
        if CALL_TASK_KEY in state:
            return _call_messages(message, outcomes[0], results[0])
        return _turn_messages(message, outcomes, results)

    def as_runnable(self, name: str = "tools") -> Runnable[AgentState, dict[str, Any]]:
        return RunnableLambda(self.__call__, afunc=self.ainvoke, name=name)

    def _run(self, outcome: ReviewOutcome, context: _RunContext) -> ToolMessage:
        tool = self.tools_by_name[outcome.tool_call["name"]]
        ledger, key = context.ledger, context.key(outcome)
        if ledger is not None:
            prior = ledger.begin(key, **context.entry(outcome))
            if prior is not None:
                replay = _replay_or_retry(prior, tool, outcome)
                if replay is not None:
                    if prior.status == "started":
                        ledger.finish(key, status="in_doubt", content=str(replay.content), outcome="error")
                    return replay
                ledger.retry(key)
        for attempt, delay in enumerate((*TOOL_RETRY_DELAYS, None)):
            try:
                invoked = tool.invoke(_invocation(outcome, tool, key))
                result = _tagged(_as_tool_message(invoked, outcome), outcome)
            except RetryableToolError as exc:  # nothing happened: again, same key, after a pause
                result = _failed(outcome, exc, attempts=attempt + 1)
                if delay is not None:
                    time.sleep(delay)
                    if ledger is not None:
                        ledger.retry(key)
                    continue
            except OutcomeUnknownError as exc:
                result = _unknown(outcome, exc)
            except Exception as exc:  # a failing tool must not kill the conversation
                result = _failed(outcome, exc)
            break
        if ledger is not None:
            ledger.finish(key, **_finished(result))
        return result

    async def _arun(self, outcome: ReviewOutcome, context: _RunContext) -> ToolMessage:
        tool = self.tools_by_name[outcome.tool_call["name"]]
        ledger, key = context.ledger, context.key(outcome)
        if ledger is not None:
            prior = await ledger.abegin(key, **context.entry(outcome))
            if prior is not None:
                replay = _replay_or_retry(prior, tool, outcome)
                if replay is not None:
                    if prior.status == "started":
                        await ledger.afinish(
                            key, status="in_doubt", content=str(replay.content), outcome="error"
                        )
                    return replay
                await ledger.aretry(key)
        for attempt, delay in enumerate((*TOOL_RETRY_DELAYS, None)):
            try:
                invoked = await tool.ainvoke(_invocation(outcome, tool, key))
                result = _tagged(_as_tool_message(invoked, outcome), outcome)
            except RetryableToolError as exc:  # nothing happened: again, same key, after a pause
                result = _failed(outcome, exc, attempts=attempt + 1)
                if delay is not None:
                    await asyncio.sleep(delay)
                    if ledger is not None:
                        await ledger.aretry(key)
                    continue
            except OutcomeUnknownError as exc:
                result = _unknown(outcome, exc)
            except Exception as exc:
                result = _failed(outcome, exc)
            break
        if ledger is not None:
            await ledger.afinish(key, **_finished(result))
        return result


@dataclass(frozen=True)
class _RunContext:
    """Where this turn's calls are recorded: the ledger, the thread, the AI message."""

    ledger: ExecutionLedger | None
    thread_id: str
    message_id: str | None

    @classmethod
    def of(cls, config: RunnableConfig, message: AIMessage, own: ExecutionLedger | None) -> _RunContext:
        configurable = config.get("configurable") or {}
        ledger = own or configurable.get(LEDGER_CONFIG_KEY)
        return cls(ledger=ledger, thread_id=str(configurable.get("thread_id", "-")), message_id=message.id)

    def key(self, outcome: ReviewOutcome) -> str:
        return execution_key(self.thread_id, self.message_id, str(outcome.tool_call["id"]))

    def entry(self, outcome: ReviewOutcome) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "tool_call_id": str(outcome.tool_call["id"]),
            "tool": outcome.tool_call["name"],
            "digest": outcome.digest,
        }


def safe_to_repeat(tool: BaseTool) -> bool:
    """A tool that may run again when a crash left its outcome unknown."""
    return bool((tool.metadata or {}).get("idempotent")) or IDEMPOTENCY_ARG in injected_arg_names(tool)


def _replay_or_retry(prior: ExecutionRecord, tool: BaseTool, outcome: ReviewOutcome) -> ToolMessage | None:
    """The recorded answer for a call that already ran; None when it should run (again)."""
    if prior.status == "started" and safe_to_repeat(tool):
        return None
    if prior.status == "started":
        content = (
            f"The outcome of this {outcome.tool_call['name']} call is unknown: the service stopped "
            "while it was running. It was not run again, so it cannot have happened twice; check "
            "whether it took effect before asking for it again."
        )
        return _tagged(
            ToolMessage(
                content=content,
                name=outcome.tool_call["name"],
                tool_call_id=outcome.tool_call["id"],
                status="error",
            ),
            outcome,
        )
    status = "error" if prior.outcome == "error" else "success"
    return _tagged(
        ToolMessage(
            content=prior.content or "",
            name=outcome.tool_call["name"],
            tool_call_id=outcome.tool_call["id"],
            status=status,
        ),
        outcome,
    )


def _finished(result: ToolMessage) -> dict[str, Any]:
    if result.response_metadata.get(_UNKNOWN_KEY):
        return {"status": "in_doubt", "content": str(result.content), "outcome": "error"}
    failed = result.status == "error"
    return {
        "status": "failed" if failed else "succeeded",
        "content": str(result.content),
        "outcome": result.status,
    }


def _invocation(outcome: ReviewOutcome, tool: BaseTool, key: str) -> ToolCall:
    """Exactly the reviewed call, always shaped as a ToolCall (never taken as raw input).

    A tool that takes an injected `idempotency_key` gets the ledger key: the same on every
    re-run, so the receiving system can recognise a repeat.
    """
    call = outcome.tool_call
    args = dict(call["args"])
    if IDEMPOTENCY_ARG in injected_arg_names(tool):
        args[IDEMPOTENCY_ARG] = key
    return ToolCall(name=call["name"], args=args, id=call["id"], type="tool_call")


def _as_tool_message(result: Any, outcome: ReviewOutcome) -> ToolMessage:
    if isinstance(result, ToolMessage):
        return result
    return ToolMessage(
        content=str(result), name=outcome.tool_call["name"], tool_call_id=outcome.tool_call["id"]
    )


def _tagged(message: ToolMessage, outcome: ReviewOutcome) -> ToolMessage:
    message.response_metadata = {**message.response_metadata, HITL_METADATA_KEY: outcome.metadata()}
    return message


def _unknown(outcome: ReviewOutcome, exc: Exception) -> ToolMessage:
    """The call may have taken effect: in doubt, never repeated by itself."""
    message = ToolMessage(
        content=(
            f"The outcome of this {outcome.tool_call['name']} call is unknown ({exc}). It was not "
            "run again, so it cannot have happened twice; check whether it took effect before "
            "asking for it again."
        ),
        name=outcome.tool_call["name"],
        tool_call_id=outcome.tool_call["id"],
        status="error",
    )
    message.response_metadata = {_UNKNOWN_KEY: True}
    return _tagged(message, outcome)


def _failed(outcome: ReviewOutcome, exc: Exception, *, attempts: int = 1) -> ToolMessage:
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    message = ToolMessage(
        content=f"The {outcome.tool_call['name']} tool failed{tried}: {type(exc).__name__}: {exc}",
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
        status="success" if outcome.status in ("responded", "repeated") else "error",
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
    # A model that repeats a call it already made gets the earlier result as its answer,
    # without comment; other turn-ending refusals say why the turn stopped.
    repeated = [o.message for o in outcomes if o.ends_turn and o.message and o.status == "repeated"]
    closing = [o.message for o in outcomes if o.ends_turn and o.message and o.status != "repeated"]
    if closing:
        out.append(AIMessage(content="I stopped here. " + " ".join(dict.fromkeys(closing))))
    elif repeated:
        out.append(AIMessage(content=" ".join(dict.fromkeys(repeated))))
    return out


def _call_messages(message: AIMessage, outcome: ReviewOutcome, result: ToolMessage) -> list[BaseMessage]:
    """What one call's own task adds: its result, after the turn's message with its edit.

    The edit is marked with the call's id, so `add_turn_messages` changes only this call
    of the stored message: a sibling task's edit in the same step is kept too.
    """
    out: list[BaseMessage] = []
    call_id = outcome.tool_call["id"]
    original = next((c for c in message.tool_calls if c.get("id") == call_id), None)
    if original is not None and original != outcome.tool_call:
        calls = [outcome.tool_call if c.get("id") == call_id else c for c in message.tool_calls]
        kwargs = {**message.additional_kwargs, EDITED_CALL_KEY: call_id}
        out.append(message.model_copy(update={"tool_calls": calls, "additional_kwargs": kwargs}))
    out.append(result)
    return out
