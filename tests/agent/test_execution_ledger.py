"""The execution ledger in the tools node: re-runs replay, in-doubt calls are not repeated
unless the tool can recognise a repeat. Real SQLite and PostgreSQL ledgers."""

from __future__ import annotations

from typing import Annotated

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolArg, tool

from langgraph_ollama_local.agent.ledger import InMemoryLedger, execution_key
from langgraph_ollama_local.agent.mail import OutboxDelivery
from langgraph_ollama_local.agent.nodes import GatedToolExecutor
from langgraph_ollama_local.agent.tools import make_send_email_tool
from langgraph_ollama_local.approvals.policy import ApprovalPolicy
from langgraph_ollama_local.store.approval_store import ApprovalStore
from langgraph_ollama_local.store.database import sync_engine_for
from langgraph_ollama_local.store.ledger import SqlExecutionLedger
from langgraph_ollama_local.testing import tool_call

ALLOW = ApprovalPolicy.from_mapping({"default": "allow"})
CONFIG = {"configurable": {"thread_id": "t1"}}


class Effects:
    def __init__(self) -> None:
        self.payments: list[tuple[int, str | None]] = []
        self.wipes: list[str] = []


def tools_for(effects: Effects):
    @tool
    def pay(amount: int, idempotency_key: Annotated[str | None, InjectedToolArg] = None) -> str:
        """Pay an amount."""
        effects.payments.append((amount, idempotency_key))
        return f"paid {amount}"

    @tool
    def wipe(table: str) -> str:
        """Delete a table (cannot recognise a repeat)."""
        effects.wipes.append(table)
        return f"wiped {table}"

    return [pay, wipe]


def turn(*calls) -> dict:
    return {"messages": [HumanMessage("go", id="h1"), AIMessage("", tool_calls=list(calls), id="ai-1")]}


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def ledger(request, tmp_path):
    if request.param == "memory":
        yield InMemoryLedger()
        return
    url = f"sqlite:///{tmp_path}/ledger.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = await ApprovalStore.open(url)
    sync = sync_engine_for(url)
    try:
        yield SqlExecutionLedger(store.engine, sync_engine=sync)
    finally:
        sync.dispose()
        await store.close()


async def test_a_rerun_node_replays_results_instead_of_repeating_effects(ledger):
    effects = Effects()
    executor = GatedToolExecutor(tools_for(effects), ALLOW, ledger=ledger)
    state = turn(tool_call("pay", {"amount": 5}, "c1"), tool_call("wipe", {"table": "logs"}, "c2"))
    first = executor(state, CONFIG)["messages"]
    again = executor(state, CONFIG)["messages"]  # LangGraph re-runs a node after a crash
    also_async = (await executor.ainvoke(state, CONFIG))["messages"]
    assert effects.payments == [(5, execution_key("t1", "ai-1", "c1"))]
    assert effects.wipes == ["logs"]
    for replay in (again, also_async):
        assert [m.content for m in replay] == [m.content for m in first] == ["paid 5", "wiped logs"]


async def test_a_call_in_doubt_is_not_repeated_by_a_tool_that_cannot_recognise_repeats(ledger):
    effects = Effects()
    executor = GatedToolExecutor(tools_for(effects), ALLOW, ledger=ledger)
    key = execution_key("t1", "ai-1", "c2")
    # The process died while `wipe` ran: the row says started, nothing says finished.
    assert await ledger.abegin(key, thread_id="t1", tool_call_id="c2", tool="wipe", digest=None) is None
    (message,) = (await executor.ainvoke(turn(tool_call("wipe", {"table": "logs"}, "c2")), CONFIG))["messages"]
    assert effects.wipes == []
    assert isinstance(message, ToolMessage) and message.status == "error"
    assert "outcome of this wipe call is unknown" in message.content
    record = await ledger.abegin(key, thread_id="t1", tool_call_id="c2", tool="wipe", digest=None)
    assert record.status == "in_doubt"
    # Later re-runs keep saying so and still do not run it.
    (again,) = (await executor.ainvoke(turn(tool_call("wipe", {"table": "logs"}, "c2")), CONFIG))["messages"]
    assert effects.wipes == [] and "unknown" in again.content


async def test_a_call_in_doubt_is_retried_with_the_same_key_by_an_idempotent_tool(ledger):
    effects = Effects()
    executor = GatedToolExecutor(tools_for(effects), ALLOW, ledger=ledger)
    key = execution_key("t1", "ai-1", "c1")
    await ledger.abegin(key, thread_id="t1", tool_call_id="c1", tool="pay", digest=None)
    (message,) = executor(turn(tool_call("pay", {"amount": 7}, "c1")), CONFIG)["messages"]
    assert message.content == "paid 7"
    assert effects.payments == [(7, key)]  # the payee can dedupe on the key it saw before
    record = await ledger.abegin(key, thread_id="t1", tool_call_id="c1", tool="pay", digest=None)
    assert (record.status, record.attempts) == ("succeeded", 2)


async def test_the_model_cannot_supply_the_idempotency_key(ledger):
    effects = Effects()
    executor = GatedToolExecutor(tools_for(effects), ALLOW, ledger=ledger)
    call = tool_call("pay", {"amount": 1, "idempotency_key": "t1/ai-0/old"}, "c9")
    (message,) = executor(turn(call), CONFIG)["messages"]
    assert effects.payments == [] and message.status == "error"


async def test_a_reused_call_id_in_a_new_turn_is_a_new_call(ledger):
    effects = Effects()
    executor = GatedToolExecutor(tools_for(effects), ALLOW, ledger=ledger)
    executor(turn(tool_call("pay", {"amount": 1}, "call_0")), CONFIG)
    later = {"messages": [HumanMessage("again"), AIMessage("", tool_calls=[tool_call("pay", {"amount": 2}, "call_0")], id="ai-2")]}
    executor(later, CONFIG)
    assert [amount for amount, _ in effects.payments] == [1, 2]


def test_send_email_with_the_ledger_writes_one_message_however_often_it_reruns(tmp_path):
    outbox = tmp_path / "outbox"
    executor = GatedToolExecutor([make_send_email_tool(OutboxDelivery(outbox))], ALLOW, ledger=InMemoryLedger())
    state = turn(tool_call("send_email", {"to": "bob@example.com", "subject": "Hi", "body": "x"}, "c1"))
    key = execution_key("t1", "ai-1", "c1")
    executor.ledger.begin(key, thread_id="t1", tool_call_id="c1", tool="send_email", digest=None)
    executor(state, CONFIG)  # in doubt → the email tool takes a key → run again, same Message-ID
    executor.ledger.records.clear()
    executor(state, CONFIG)  # even with the ledger lost, the outbox recognises the Message-ID
    assert len(list(outbox.glob("*.eml"))) == 1
