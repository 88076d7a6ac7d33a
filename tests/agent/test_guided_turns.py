"""Guided turns (plan → act → answer) with scripted models: the loop's logic, deterministic.

The planner and the chat model are test doubles (`ScriptedChatModel`); the real embedded
models run the same loop in `test_embedded_end_to_end.py` and `bench/agent_quality.py`.
Spy tools record every execution, so "nothing ran" is observed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import Field

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.agent.guided import ANSWER_MAX_TOKENS, PLAN_KEY
from langgraph_ollama_local.testing import ScriptedChatModel, tool_call

from .test_approval_patterns import Spy

CFG = {"configurable": {"thread_id": "g"}}


@pytest.fixture
def spy() -> Spy:
    return Spy()

POLICY = ApprovalPolicy.from_mapping(
    {
        "default": "allow",
        "tools": {"send_email": [{"stages": [{"name": "approval"}]}]},
        "provenance": {"send_email": {"key_args": ["to"]}},
    }
)


class ScriptedPlanner(ScriptedChatModel):
    """Plans by a function of the user's message (a test double for the 1.5B planner)."""

    plans: dict[str, list[str]] = Field(default_factory=dict)

    def with_structured_output(self, schema: Any, *, method: str = "function_calling", **kwargs: Any) -> Runnable:
        assert method == "json_schema"
        allowed = set(schema["properties"]["steps"]["items"]["enum"])

        def plan(messages: Sequence[BaseMessage]) -> dict[str, Any]:
            self._calls_log.add(list(messages))
            text = messages[-1].text
            steps = next((s for key, s in self.plans.items() if key in text), [])
            assert set(steps) <= allowed
            return {"request": text[:40], "steps": steps}

        return RunnableLambda(plan)


class Actor(ScriptedChatModel):
    """The chat model: writes the forced tool's arguments, or a prose answer."""

    args: dict[str, dict[str, Any]] = Field(default_factory=dict)
    forced: str | None = None

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any) -> Runnable:
        bound = self.model_copy(update={"forced": tool_choice})
        bound._log = self._calls_log
        return bound

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
        from langchain_core.outputs import ChatGeneration, ChatResult

        self._calls_log.add(list(messages))
        if self.forced and self.forced != "none":
            reply = AIMessage(content="", tool_calls=[tool_call(self.forced, self.args[self.forced])])
        else:
            results = [m.text for m in messages if isinstance(m, ToolMessage)]
            reply = AIMessage(content=" ".join(["Answer:", *results]) if results else "Hello there!")
        return ChatResult(generations=[ChatGeneration(message=reply)])


def guided(spy: Spy, plans: dict[str, list[str]], args: dict[str, dict[str, Any]], **kwargs: Any):
    planner = ScriptedPlanner(plans=plans)
    actor = Actor(args=args)
    graph = create_approval_agent(
        actor, spy.tools(), policy=POLICY, checkpointer=InMemorySaver(), turns="guided", planner=planner, **kwargs
    )
    return graph, planner, actor


def say(graph, text: str):
    graph.invoke({"messages": [HumanMessage(text)]}, CFG)
    return graph.get_state(CFG)


def test_a_safe_question_ends_in_prose_built_on_the_tools_result(spy):
    graph, _, _ = guided(spy, {"weather": ["get_weather"]}, {"get_weather": {"location": "Paris"}})
    state = say(graph, "What's the weather in Paris?")
    assert state.interrupts == () and spy.weather == ["Paris"]
    reply = state.values["messages"][-1]
    assert reply.content == "Answer: Weather in Paris: Sunny, 72°F" and reply.tool_calls == []
    assert reply.response_metadata[PLAN_KEY]["steps"] == ["get_weather"]


def test_chit_chat_calls_no_tool(spy):
    graph, _, _ = guided(spy, {}, {})
    state = say(graph, "Good morning!")
    assert [type(m) for m in state.values["messages"]] == [HumanMessage, AIMessage]
    assert state.values["messages"][-1].content == "Hello there!"
    assert spy.weather == [] and spy.emails == []


def test_do_a_then_b_runs_a_then_asks_for_b_with_as_result_in_view(spy):
    args = {"get_weather": {"location": "Oslo"}, "send_email": {"to": "erik@example.no", "subject": "Oslo", "body": "Sunny"}}
    graph, _, actor = guided(spy, {"weather in Oslo": ["get_weather", "send_email"]}, args)
    state = say(graph, "Get the weather in Oslo and email it to erik@example.no")
    assert spy.weather == ["Oslo"] and spy.emails == []
    (pending,) = state.interrupts
    assert pending.value["name"] == "send_email" and pending.value["args"]["to"] == "erik@example.no"
    # The email's arguments were written with the weather result in the prompt.
    assert any(isinstance(m, ToolMessage) and "Sunny" in m.text for m in actor.calls[-1])
    graph.invoke(Command(resume={pending.id: {"type": "approve"}}), CFG)
    final = graph.get_state(CFG).values["messages"][-1]
    assert final.content == "Email sent to erik@example.no"  # the approved call's own result
    assert len(spy.emails) == 1


def test_a_rejection_ends_with_a_sentence_about_what_did_not_happen(spy):
    args = {"send_email": {"to": "bob@example.com", "subject": "s", "body": "b"}}
    graph, _, actor = guided(spy, {"bob": ["send_email"]}, args)
    (pending,) = say(graph, "Email bob@example.com hi").interrupts
    calls_before = len(actor.calls)
    graph.invoke(Command(resume={pending.id: {"type": "reject", "message": "not today"}}), CFG)
    final = graph.get_state(CFG).values["messages"][-1]
    assert final.content == "I did not run send_email (to: bob@example.com; subject: s): it was rejected (“not today”)."
    assert spy.emails == [] and len(actor.calls) == calls_before  # no model call needed


def test_an_invented_recipient_is_asked_for_not_put_to_an_approver(spy):
    args = {"send_email": {"to": "someone@example.com", "subject": "s", "body": "b"}}
    graph, _, _ = guided(spy, {"email": ["send_email"]}, args)
    state = say(graph, "Send an email saying hi")
    assert state.interrupts == () and spy.emails == []
    final = state.values["messages"][-1].content
    assert final.startswith("I did not run send_email: you did not give the") and final.endswith("should I use?")


def test_a_repeated_step_is_skipped_silently_and_the_turn_answers(spy):
    args = {"get_weather": {"location": "Rome"}}
    graph, _, _ = guided(spy, {"Rome": ["get_weather", "get_weather"]}, args)
    state = say(graph, "Weather in Rome? And again in Rome.")
    assert spy.weather == ["Rome"]  # ran once
    final = state.values["messages"][-1].content
    assert final == "Answer: Weather in Rome: Sunny, 72°F"
    assert "already ran" not in final and "stopped" not in final


def test_static_breakpoints_still_pause_before_the_tools(spy):
    graph, _, _ = guided(spy, {"weather": ["get_weather"]}, {"get_weather": {"location": "Paris"}}, interrupt_before=["tools"])
    state = say(graph, "weather please")
    assert state.next == ("tools",) and spy.weather == []
    graph.invoke(None, CFG)
    assert spy.weather == ["Paris"] and graph.get_state(CFG).next == ()


def test_the_plan_is_checkpointed_so_a_resumed_turn_does_not_plan_again(spy):
    args = {"send_email": {"to": "bob@example.com", "subject": "s", "body": "b"}}
    graph, planner, _ = guided(spy, {"bob": ["send_email"]}, args)
    (pending,) = say(graph, "Email bob@example.com hi").interrupts
    planned = planner._calls_log.count
    graph.invoke(Command(resume={pending.id: {"type": "approve"}}), CFG)
    assert planner._calls_log.count == planned == 1
    assert len(spy.emails) == 1


def test_a_planned_tool_that_is_not_offered_is_dropped(spy):
    graph, _, _ = guided(spy, {}, {})
    turns = graph.get_graph()  # built: the schema lists only real tools
    assert turns is not None
    from langgraph_ollama_local.agent.guided import GuidedTurns

    node = GuidedTurns(Actor(), spy.tools(), planner=ScriptedPlanner())
    assert node._validated({"request": "x", "steps": ["rm_rf", "get_weather"]})["steps"] == ["get_weather"]


def test_native_turns_are_unchanged_for_models_that_do_not_ask_for_guidance(spy):
    model = ScriptedChatModel(responses=[AIMessage(content="hi")])
    graph = create_approval_agent(model, spy.tools(), policy=POLICY, checkpointer=InMemorySaver())
    state = say(graph, "hello")
    assert state.values["messages"][-1].content == "hi"
    assert PLAN_KEY not in state.values["messages"][-1].response_metadata


@pytest.mark.asyncio
async def test_async_guided_turn(spy):
    graph, _, _ = guided(spy, {"weather": ["get_weather"]}, {"get_weather": {"location": "Lima"}})
    await graph.ainvoke({"messages": [HumanMessage("weather in Lima")]}, CFG)
    state = await graph.aget_state(CFG)
    assert state.values["messages"][-1].content == "Answer: Weather in Lima: Sunny, 72°F"


class LongWinded(Actor):
    """A model that honours tool_choice (like the embedded one) and writes on to its limit."""

    constrains_tool_choice: ClassVar[bool] = True
    limits: list[Any] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any) -> Runnable:
        self.limits.append(kwargs.get("max_tokens"))
        return super().bind_tools(tools, tool_choice=tool_choice, **kwargs)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
        from langchain_core.outputs import ChatGeneration, ChatResult

        reply = AIMessage(content="Boil water. Put the egg in, then", response_metadata={"finish_reason": "length"})
        return ChatResult(generations=[ChatGeneration(message=reply)])


def test_a_reply_cut_at_its_length_limit_says_so(spy):
    actor = LongWinded()
    graph = create_approval_agent(actor, spy.tools(), policy=POLICY, checkpointer=InMemorySaver(), turns="guided",
                                  planner=ScriptedPlanner())
    state = say(graph, "How do I boil an egg?")
    assert ANSWER_MAX_TOKENS in actor.limits  # the answer step is bounded
    assert state.values["messages"][-1].content == "Boil water. Put the egg in, then …"
