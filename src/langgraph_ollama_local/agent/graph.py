"""Graph builders: the tutorial's agent ⇄ tools loop with the approval gate inside.

`build_workflow` returns the uncompiled `StateGraph`, so every pattern of the tutorial
(`workflow.compile(checkpointer=..., interrupt_before=["tools"])`) works on it as
written. `create_approval_agent` compiles it and insists on a checkpointer, because an
approval that cannot be resumed is an approval lost.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from langgraph_ollama_local.agent.guided import GuidedTurns, PlanExample
from langgraph_ollama_local.agent.nodes import (
    DEFAULT_SYSTEM_PROMPT,
    GatedToolExecutor,
    after_tools,
    make_agent_node,
    pending_tool_calls,
)
from langgraph_ollama_local.agent.state import AgentState
from langgraph_ollama_local.approvals.policy import ApprovalPolicy

Workflow = StateGraph[AgentState, Any, AgentState, AgentState]
Agent = CompiledStateGraph[AgentState, Any, AgentState, AgentState]
Turns = Literal["auto", "guided", "native"]


class CheckpointerRequiredError(RuntimeError):
    """Interrupts need a checkpointer: without one, a paused run cannot be resumed."""


def uses_guided_turns(model: BaseChatModel, turns: Turns = "auto") -> bool:
    """`auto`: guided for models that ask for it (the embedded ones), native otherwise."""
    if turns == "auto":
        return bool(getattr(model, "prefers_guided_turns", False))
    return turns == "guided"


def agent_node(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    *,
    turns: Turns = "auto",
    planner: BaseChatModel | None = None,
    plan_examples: Sequence[PlanExample] = (),
) -> Runnable[AgentState, dict[str, Any]]:
    """The `agent` node: guided plan → act → answer steps, or the classic model turn."""
    if tools and isinstance(model, BaseChatModel) and uses_guided_turns(model, turns):
        chosen = planner or _own_planner(model)
        return GuidedTurns(
            model, tools, planner=chosen, system_prompt=system_prompt, examples=plan_examples
        ).as_runnable()
    return make_agent_node(model, tools, system_prompt)


def _own_planner(model: BaseChatModel) -> BaseChatModel | None:
    make = getattr(model, "planner", None)
    planner = make() if callable(make) else None
    return planner if isinstance(planner, BaseChatModel) else None


def build_workflow(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    policy: ApprovalPolicy | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    turns: Turns = "auto",
    planner: BaseChatModel | None = None,
    plan_examples: Sequence[PlanExample] = (),
) -> Workflow:
    """Nodes `agent` and `tools`; `tools` runs each call only as the policy allows.

    The calls of one turn are reviewed each on its own (one `tools` task per call, all
    asked at once) unless the policy says `turn_calls: together` or a whole-turn rule
    applies; see `approvals/gate.py`.

    With no policy every tool call needs approval: an unlisted tool never runs unreviewed.
    Pass `ApprovalPolicy.allow_all()` when a static breakpoint is your only checkpoint.
    `turns` picks the agent node: `guided` (plan, act, answer; see `agent/guided.py`) or
    `native` (the model chooses freely); `auto` is guided on the embedded model.
    """
    executor = GatedToolExecutor(tools, policy or ApprovalPolicy())
    workflow: Workflow = StateGraph(AgentState)
    workflow.add_node(
        "agent",
        agent_node(model, tools, system_prompt, turns=turns, planner=planner, plan_examples=plan_examples),
    )
    workflow.add_node("tools", executor.as_runnable("tools"))
    workflow.add_edge(START, "agent")
    # `dispatch` is the tutorial's `should_continue`, except that a turn whose calls may go
    # separately gets one `tools` task per call (see agent/nodes.py).
    workflow.add_conditional_edges("agent", executor.dispatch, {"tools": "tools", "end": END})
    workflow.add_conditional_edges("tools", after_tools, {"agent": "agent", "end": END})
    return workflow


def build_selective_workflow(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    sensitive_tools: Collection[str] | None = None,
    policy: ApprovalPolicy | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    turns: Turns = "auto",
    planner: BaseChatModel | None = None,
) -> Workflow:
    """The tutorial's selective layout: `sensitive_tools` and `safe_tools` nodes.

    Give `sensitive_tools` (a set of names) to route by name and gate with a static
    `interrupt_before=["sensitive_tools"]`, as the tutorial does; or give a `policy` to
    route every call that is not plainly allowed to `sensitive_tools`, where the gate
    asks for approval. Either way both nodes run the gate, so a call routed wrongly
    still cannot skip its approval.
    """
    if (sensitive_tools is None) == (policy is None):
        raise ValueError("give exactly one of sensitive_tools (names) or policy")
    names = {t.name for t in tools}
    if sensitive_tools is not None:
        unknown = sorted(set(sensitive_tools) - names)
        if unknown:
            raise ValueError(f"sensitive_tools names unknown tool(s) {unknown}; tools are {sorted(names)}")
        sensitive = set(sensitive_tools)
        gate_policy = ApprovalPolicy.allow_all()

        def is_sensitive(name: str, args: dict[str, Any]) -> bool:
            return name in sensitive or name not in names
    else:
        assert policy is not None
        gate_policy = policy

        def is_sensitive(name: str, args: dict[str, Any]) -> bool:
            return name not in names or gate_policy.classify(name, args).action != "allow"

    executor = GatedToolExecutor(tools, gate_policy)

    def route(state: AgentState) -> Literal["sensitive_tools", "safe_tools", "end"]:
        message = pending_tool_calls(state)
        if message is None:
            return "end"
        if any(is_sensitive(tc["name"], tc["args"]) for tc in message.tool_calls):
            return "sensitive_tools"
        return "safe_tools"

    workflow: Workflow = StateGraph(AgentState)
    workflow.add_node("agent", agent_node(model, tools, system_prompt, turns=turns, planner=planner))
    workflow.add_node("sensitive_tools", executor.as_runnable("sensitive_tools"))
    workflow.add_node("safe_tools", executor.as_runnable("safe_tools"))
    workflow.add_edge(START, "agent")
    workflow.add_conditional_edges(
        "agent", route, {"sensitive_tools": "sensitive_tools", "safe_tools": "safe_tools", "end": END}
    )
    for node in ("sensitive_tools", "safe_tools"):
        workflow.add_conditional_edges(node, after_tools, {"agent": "agent", "end": END})
    return workflow


def create_approval_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    policy: ApprovalPolicy | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    interrupt_before: Sequence[str] | None = None,
    interrupt_after: Sequence[str] | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    turns: Turns = "auto",
    planner: BaseChatModel | None = None,
    plan_examples: Sequence[PlanExample] = (),
) -> Agent:
    """A compiled approval-gated agent. A checkpointer is required."""
    if checkpointer is None:
        raise CheckpointerRequiredError(
            "create_approval_agent needs a checkpointer: approvals pause the run and must be "
            "resumable. Use InMemorySaver() in a notebook, or "
            "langgraph_ollama_local.store.open_checkpointer('sqlite:///hitl.db') to survive restarts."
        )
    workflow = build_workflow(
        model,
        tools,
        policy=policy,
        system_prompt=system_prompt,
        turns=turns,
        planner=planner,
        plan_examples=plan_examples,
    )
    return workflow.compile(
        checkpointer=checkpointer,
        interrupt_before=list(interrupt_before) if interrupt_before else None,
        interrupt_after=list(interrupt_after) if interrupt_after else None,
    )
