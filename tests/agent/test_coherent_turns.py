"""Coherent turns: the calls of one model turn are pending together, each decided on its own.

Issue 15: "an approved email ran 3 minutes later, when its sibling was decided". Now every
call of a turn gets its own `tools` task (LangGraph `Send`), so all the turn's interrupts are
pending at once; an approved call runs at its own resume (its spy records it then), while
whole-turn rules still see the whole turn first. Spies observe every effect.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from langgraph_ollama_local import ApprovalPolicy, ApprovalRunner, create_approval_agent
from langgraph_ollama_local.agent.ledger import LEDGER_CONFIG_KEY, InMemoryLedger
from langgraph_ollama_local.agent.state import EDITED_CALL_KEY
from langgraph_ollama_local.approvals.gate import MAX_REFUSALS_PER_TURN
from langgraph_ollama_local.store import open_checkpointer
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script, tool_call
from tests.agent.test_approval_patterns import Spy

SENSITIVE = ApprovalPolicy.require_approval_for("send_email")
CFG: Any = {"configurable": {"thread_id": "t"}}
TWO = "Send email to a@example.com and b@example.com"


@pytest.fixture
def spy() -> Spy:
    return Spy()


def agent(spy: Spy, policy: ApprovalPolicy = SENSITIVE, model: Any = None, saver: Any = None) -> Any:
    model = model or ScriptedChatModel(script=email_assistant_script)
    return create_approval_agent(model, spy.tools(), policy=policy, checkpointer=saver or InMemorySaver())


def by_recipient(graph: Any, config: Any = CFG) -> dict[str, Any]:
    return {i.value["args"]["to"]: i for i in graph.get_state(config).interrupts}


def tool_messages(graph: Any, config: Any = CFG) -> list[ToolMessage]:
    return [m for m in graph.get_state(config).values["messages"] if isinstance(m, ToolMessage)]


def test_both_calls_of_a_turn_are_pending_at_once_and_each_runs_when_its_own_review_is_done(spy):
    graph = agent(spy)
    graph.invoke({"messages": [("user", TWO)]}, CFG)
    pending = by_recipient(graph)
    assert sorted(pending) == ["a@example.com", "b@example.com"]  # together, not one after another
    turn = {i.value["hitl"]["turn_id"] for i in pending.values()}
    assert len(turn) == 1 and None not in turn  # the inbox groups them by this
    assert sorted(i.value["hitl"]["call_index"] for i in pending.values()) == [0, 1]
    assert graph.get_state(CFG).next == ("tools", "tools")

    graph.invoke(Command(resume={pending["b@example.com"].id: {"type": "approve"}}), CFG)
    assert [e["to"] for e in spy.emails] == ["b@example.com"]  # ran before its sibling is decided
    still = by_recipient(graph)
    assert list(still) == ["a@example.com"] and still["a@example.com"].id == pending["a@example.com"].id

    graph.invoke(Command(resume={still["a@example.com"].id: {"type": "reject", "message": "not a"}}), CFG)
    assert [e["to"] for e in spy.emails] == ["b@example.com"]  # the rejected call never ran
    state = graph.get_state(CFG)
    assert state.next == () and not state.interrupts
    results = {m.tool_call_id: m for m in tool_messages(graph)}
    ai = next(m for m in state.values["messages"] if isinstance(m, AIMessage) and m.tool_calls)
    assert [results[c["id"]].response_metadata["hitl"]["outcome"] for c in ai.tool_calls] == ["rejected", "run"]
    assert "rejected the send_email call: not a" in str(results[ai.tool_calls[0]["id"]].content)
    assert isinstance(state.values["messages"][-1], AIMessage)  # the model answered the whole turn


def test_a_plain_resume_is_refused_when_a_turn_has_several_questions(spy):
    graph = agent(spy)
    graph.invoke({"messages": [("user", TWO)]}, CFG)
    with pytest.raises(RuntimeError, match="multiple pending interrupts"):
        graph.invoke(Command(resume={"type": "approve"}), CFG)
    assert spy.emails == []
    assert len(graph.get_state(CFG).interrupts) == 2


def test_the_sync_runner_decides_each_call_by_id(spy):
    graph = agent(spy)
    runner = ApprovalRunner(graph)
    runner.start("t", TWO)
    items = runner.pending("t")
    assert len(items) == 2
    first = next(i for i in items if i.view and i.view.actions[0].args["to"] == "a@example.com")
    runner.decide("t", first.interrupt_id or "", {"type": "approve"})
    assert [e["to"] for e in spy.emails] == ["a@example.com"]
    (second,) = runner.pending("t")
    runner.decide("t", second.interrupt_id or "", {"type": "approve"})
    assert sorted(e["to"] for e in spy.emails) == ["a@example.com", "b@example.com"]
    assert runner.pending("t") == []


def test_a_one_call_turn_still_resumes_with_a_plain_command(spy):
    graph = agent(spy)
    graph.invoke({"messages": [("user", "Send email to a@example.com")]}, CFG)
    assert graph.get_state(CFG).next == ("tools",)
    graph.invoke(Command(resume={"type": "approve"}), CFG)
    assert [e["to"] for e in spy.emails] == ["a@example.com"]


def test_a_free_call_beside_a_gated_one_runs_at_once(spy):
    graph = agent(spy)
    graph.invoke({"messages": [("user", "Send email to a@example.com and the weather in Paris")]}, CFG)
    assert spy.weather == ["Paris"] and spy.emails == []
    assert list(by_recipient(graph)) == ["a@example.com"]


def test_the_policy_can_make_a_turns_calls_wait_for_each_other(spy):
    together = ApprovalPolicy.from_mapping({"default": "allow", "turn_calls": "together", "tools": {"send_email": {}}})
    graph = agent(spy, together)
    graph.invoke({"messages": [("user", TWO)]}, CFG)
    (first,) = graph.get_state(CFG).interrupts  # one question at a time, as before
    graph.invoke(Command(resume={first.id: {"type": "approve"}}), CFG)
    assert spy.emails == []  # waits for its sibling
    (second,) = graph.get_state(CFG).interrupts
    graph.invoke(Command(resume={second.id: {"type": "approve"}}), CFG)
    assert len(spy.emails) == 2


def test_edits_of_both_calls_show_in_the_history(spy):
    graph = agent(spy)
    graph.invoke({"messages": [("user", TWO)]}, CFG)
    pending = by_recipient(graph)
    for old, new in (("a@example.com", "a2@example.com"), ("b@example.com", "b2@example.com")):
        edit = {"type": "edit", "args": {"to": new, "subject": "s", "body": "b"}}
        graph.invoke(Command(resume={pending[old].id: edit}), CFG)
    assert [e["to"] for e in spy.emails] == ["a2@example.com", "b2@example.com"]
    ai = next(m for m in graph.get_state(CFG).values["messages"] if isinstance(m, AIMessage) and m.tool_calls)
    assert [c["args"]["to"] for c in ai.tool_calls] == ["a2@example.com", "b2@example.com"]
    assert EDITED_CALL_KEY not in ai.additional_kwargs


def test_edits_of_both_calls_in_one_resume_both_show(spy):
    graph = agent(spy)
    graph.invoke({"messages": [("user", TWO)]}, CFG)
    pending = by_recipient(graph)
    both = {
        pending["a@example.com"].id: {"type": "edit", "args": {"to": "a2@example.com", "subject": "s", "body": "b"}},
        pending["b@example.com"].id: {"type": "edit", "args": {"to": "b2@example.com", "subject": "s", "body": "b"}},
    }
    graph.invoke(Command(resume=both), CFG)
    ai = next(m for m in graph.get_state(CFG).values["messages"] if isinstance(m, AIMessage) and m.tool_calls)
    assert [c["args"]["to"] for c in ai.tool_calls] == ["a2@example.com", "b2@example.com"]


# -- whole-turn rules still see the whole turn ----------------------------------------------


def scripted(*calls: Any) -> ScriptedChatModel:
    """A model whose first reply is `calls`, then a plain answer."""
    return ScriptedChatModel(responses=[AIMessage(content="", tool_calls=list(calls)), AIMessage(content="ok")])


def email(to: str, call_id: str | None = None) -> Any:
    return tool_call("send_email", {"to": to, "subject": "s", "body": "b"}, call_id)


def test_duplicate_ids_beside_a_valid_gated_call_refuse_the_whole_turn(spy):
    graph = agent(spy, model=scripted(email("a@example.com", "same"), email("b@example.com", "same")))
    graph.invoke({"messages": [("user", "mail a@example.com and b@example.com")]}, CFG)
    state = graph.get_state(CFG)
    assert not state.interrupts and state.next == ()  # nobody is asked about any of them
    assert spy.emails == []
    assert "share one id" in str(state.values["messages"][-1].content)


def test_too_many_calls_refuse_the_whole_turn(spy):
    policy = ApprovalPolicy.from_mapping({"default": "allow", "max_calls_per_turn": 2, "tools": {"send_email": {}}})
    calls = [email(f"{n}@example.com") for n in "abc"]
    graph = agent(spy, policy, model=scripted(*calls))
    graph.invoke({"messages": [("user", "mail a@example.com b@example.com c@example.com")]}, CFG)
    state = graph.get_state(CFG)
    assert not state.interrupts and spy.emails == []
    assert "at most 2" in str(state.values["messages"][-1].content)


def test_an_unknown_tool_beside_a_gated_call_never_runs_and_the_gated_call_still_waits(spy):
    graph = agent(spy, model=scripted(tool_call("wire_money", {"to": "x"}), email("a@example.com")))
    graph.invoke({"messages": [("user", "mail a@example.com")]}, CFG)
    (question,) = graph.get_state(CFG).interrupts
    assert question.value["args"]["to"] == "a@example.com"
    graph.invoke(Command(resume={question.id: {"type": "reject"}}), CFG)
    refused = {m.name: m for m in tool_messages(graph)}
    assert "does not exist" in str(refused["wire_money"].content) and spy.emails == []


def test_the_refusal_loop_limit_still_counts_the_whole_turn(spy):
    unknown = [tool_call("wire_money", {"n": n}) for n in range(MAX_REFUSALS_PER_TURN)]
    graph = agent(spy, model=scripted(*unknown, email("a@example.com")))
    graph.invoke({"messages": [("user", "mail a@example.com")]}, CFG)
    # The turn ends: reviewed together, one question at a time, then the closing message.
    (question,) = graph.get_state(CFG).interrupts
    graph.invoke(Command(resume={question.id: {"type": "reject"}}), CFG)
    last = graph.get_state(CFG).values["messages"][-1]
    assert isinstance(last, AIMessage) and "refused in this turn" in str(last.content)
    assert spy.emails == []


# -- four eyes per call ------------------------------------------------------------------------

FOUR_EYES = ApprovalPolicy.from_mapping(
    {
        "default": "allow",
        "access": {"self_approval": False},
        "tools": {"send_email": {"stages": [{"name": "manager", "role": "m"}, {"name": "finance", "role": "f"}]}},
    }
)


def test_each_call_keeps_its_own_two_stages_and_distinct_approvers(spy):
    graph = agent(spy, FOUR_EYES)
    graph.invoke({"messages": [("user", TWO)]}, CFG)
    first = by_recipient(graph)
    graph.invoke(Command(resume={first["a@example.com"].id: {"type": "approve", "actor": "ann"}}), CFG)
    now = by_recipient(graph)
    assert now["a@example.com"].value["stage"] == "finance" and now["b@example.com"].value["stage"] == "manager"
    assert spy.emails == []  # one stage of two is not an approval
    with pytest.raises(ValidationError, match="another person"):
        graph.invoke(Command(resume={now["a@example.com"].id: {"type": "approve", "actor": "ann"}}), CFG)
    # ann may approve the other call's first stage: four eyes are per call.
    graph.invoke(Command(resume={now["b@example.com"].id: {"type": "approve", "actor": "ann"}}), CFG)
    graph.invoke(Command(resume={by_recipient(graph)["a@example.com"].id: {"type": "approve", "actor": "bob"}}), CFG)
    assert [e["to"] for e in spy.emails] == ["a@example.com"]
    with pytest.raises(ValidationError, match="another person"):
        graph.invoke(Command(resume={by_recipient(graph)["b@example.com"].id: {"type": "approve", "actor": "ann"}}), CFG)
    graph.invoke(Command(resume={by_recipient(graph)["b@example.com"].id: {"type": "approve", "actor": "bob"}}), CFG)
    assert [e["to"] for e in spy.emails] == ["a@example.com", "b@example.com"]


# -- crashes -------------------------------------------------------------------------------------


class Crash(BaseException):
    """The process dies: not an `Exception`, so no tool-failure handler swallows it."""


def test_a_crash_after_an_approved_call_ran_neither_repeats_it_nor_runs_its_sibling(spy, tmp_path):
    ledger = InMemoryLedger()  # stands in for the durable ledger the service passes in
    config = {"configurable": {"thread_id": "t", LEDGER_CONFIG_KEY: ledger}}
    crash = {"armed": True}
    real = spy.tools()

    def crashing_tools():
        from langchain_core.tools import tool

        @tool
        def send_email(to: str, subject: str, body: str) -> str:
            """Send an email."""
            spy.emails.append({"to": to})
            if crash["armed"]:
                crash["armed"] = False
                raise Crash  # after the effect, before LangGraph saved the task's writes
            return f"Email sent to {to}"

        return [send_email, real[1]]

    with open_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        model = ScriptedChatModel(script=email_assistant_script)
        graph = create_approval_agent(model, crashing_tools(), policy=SENSITIVE, checkpointer=saver)
        graph.invoke({"messages": [("user", TWO)]}, config)
        pending = by_recipient(graph, config)
        approve_a = Command(resume={pending["a@example.com"].id: {"type": "approve"}})
        with pytest.raises(Crash):
            graph.invoke(approve_a, config)
        assert [e["to"] for e in spy.emails] == ["a@example.com"]
        # Recovery replays the same resume (the service re-runs the run it had queued).
        again = create_approval_agent(model, crashing_tools(), policy=SENSITIVE, checkpointer=saver)
        again.invoke(approve_a, config)
        assert [e["to"] for e in spy.emails] == ["a@example.com"]  # not sent twice
        assert list(by_recipient(again, config)) == ["b@example.com"]  # the sibling still waits
        again.invoke(Command(resume={by_recipient(again, config)["b@example.com"].id: {"type": "reject"}}), config)
        assert [e["to"] for e in spy.emails] == ["a@example.com"]  # nothing unapproved ran
        results = [m for m in tool_messages(again, config)]
        assert len(results) == 2
        in_doubt = next(m for m in results if m.response_metadata["hitl"]["outcome"] == "run")
        assert "unknown" in str(in_doubt.content)  # reported in doubt, never repeated


def test_a_state_edit_at_the_breakpoint_is_what_the_turns_tasks_review_and_run(spy):
    """`update_state` before the tools run dispatches the turn again: no task keeps stale args."""
    graph = create_approval_agent(ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=SENSITIVE,
                                  checkpointer=InMemorySaver(), interrupt_before=["tools"])  # fmt: skip
    graph.invoke({"messages": [("user", TWO)]}, CFG)
    assert graph.get_state(CFG).next == ("tools", "tools")
    ai = graph.get_state(CFG).values["messages"][-1]
    calls = [dict(c) for c in ai.tool_calls]
    calls[0]["args"] = {**calls[0]["args"], "to": "edited@example.com"}
    graph.update_state(CFG, {"messages": [ai.model_copy(update={"tool_calls": calls})]})
    graph.invoke(None, CFG)
    pending = by_recipient(graph)
    assert sorted(pending) == ["b@example.com", "edited@example.com"] and spy.emails == []
    graph.invoke(Command(resume={pending["edited@example.com"].id: {"type": "approve"}}), CFG)
    assert [e["to"] for e in spy.emails] == ["edited@example.com"]
