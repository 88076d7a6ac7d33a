"""End to end with the real embedded model (llama.cpp, Qwen2.5-Coder-0.5B) and real SMTP.

The model decides which tool to call; the approval decides whether, and with which
arguments, the email really goes out.
"""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, create_approval_agent
from langgraph_ollama_local.agent.tools import default_tools
from langgraph_ollama_local.llm import create_chat_model

pytestmark = pytest.mark.embedded

PROMPT = "Send an email to bob@example.com with subject Lunch saying that lunch is at noon."


@pytest.fixture(scope="module")
def model():
    return create_chat_model(LocalAgentConfig(provider="embedded"))


@pytest.fixture
def agent_and_inbox(model, smtp_server, tmp_path):
    host, port, inbox = smtp_server
    config = LocalAgentConfig(provider="embedded", home=tmp_path, smtp={"host": host, "port": port})
    graph = create_approval_agent(
        model,
        default_tools(config),
        policy=ApprovalPolicy.require_approval_for("send_email"),
        checkpointer=InMemorySaver(),
    )
    return graph, inbox


def pause(graph, thread: str):
    cfg = {"configurable": {"thread_id": thread}}
    graph.invoke({"messages": [("user", PROMPT)]}, cfg)
    interrupts = graph.get_state(cfg).interrupts
    assert len(interrupts) == 1, graph.get_state(cfg).values["messages"]
    assert interrupts[0].value["name"] == "send_email"
    return cfg, interrupts[0]


def test_approve_delivers_to_the_approved_recipient(agent_and_inbox):
    graph, inbox = agent_and_inbox
    cfg, pending = pause(graph, "approve")
    assert pending.value["args"]["to"] == "bob@example.com"
    assert inbox.messages == []  # nothing before the approval
    graph.invoke(Command(resume={pending.id: {"type": "approve"}}), cfg)
    assert inbox.recipients() == ["bob@example.com"]
    assert graph.get_state(cfg).next == ()


def test_edit_delivers_to_the_edited_recipient(agent_and_inbox):
    graph, inbox = agent_and_inbox
    cfg, pending = pause(graph, "edit")
    args = {**pending.value["args"], "to": "carol@example.com"}
    graph.invoke(Command(resume={pending.id: {"type": "edit", "args": args}}), cfg)
    assert inbox.recipients() == ["carol@example.com"]


def test_reject_sends_nothing_and_the_model_answers(agent_and_inbox):
    graph, inbox = agent_and_inbox
    cfg, pending = pause(graph, "reject")
    graph.invoke(Command(resume={pending.id: {"type": "reject", "message": "not today"}}), cfg)
    state = graph.get_state(cfg)
    assert inbox.messages == []
    # The model may try again (it is small); whatever it does, nothing was sent unapproved.
    for extra in state.interrupts:
        assert extra.value["name"] == "send_email"
    assert inbox.messages == []


# -- end-to-end quality, a fast subset of bench/agent_quality.py ------------------------------
# The same cases and the same scoring as the bench (loaded from bench/agent_quality.py), on the
# real embedded models through the real agent, default tools and policy. Correctness only:
# no timing is asserted; the bench prints the figures.

def _bench():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "agent_quality.py"
    spec = importlib.util.spec_from_file_location("agent_quality_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
SUBSET = [
    "Tell me the weather for Nairobi",
    "Is it raining in Dublin right now?",
    "Send an email to maria@example.com saying the report is ready",
    "Please write to li.wei@example.org that the meeting is moved to 4pm",
    "Email both ana@example.com and ben@example.com that lunch is cancelled",
    "Get the weather in Madrid and email it to carla@example.com",
    "Good morning!",
    "What is 2 + 2?",
    "Send an email saying hi",
    "What does the page http://news.example/today say?",
]


@pytest.fixture(scope="module")
def quality_agent(model, tmp_path_factory):
    config = LocalAgentConfig(provider="embedded", home=tmp_path_factory.mktemp("quality"))
    return create_approval_agent(
        model, [*default_tools(config), BENCH.fetch_page], policy=BENCH.bench_policy(config), checkpointer=InMemorySaver()
    )


@pytest.mark.parametrize("prompt", SUBSET)
def test_the_agent_does_the_right_thing_end_to_end(quality_agent, prompt):
    (case,) = [c for c in BENCH.CASES if c.prompt == prompt]
    outcome = BENCH.score(quality_agent, case, f"quality-{SUBSET.index(prompt)}")
    assert outcome.right, f"[{case.kind}] {prompt!r}: {outcome.why}"
    assert not outcome.needless_sensitive and not outcome.guard
