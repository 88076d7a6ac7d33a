"""A graph for the crash suite (`hitl serve/worker --graph`): two gated tools with real
external effects in PostgreSQL (the "bank", database from $CRASH_BANK_URL).

- `pay` takes the injected `idempotency_key`, as a real payment API would: the bank keeps
  one payment per key, and logs every attempt;
- `wipe` cannot recognise a repeat: every execution is one more row.
Both record the executing process's own clock (`process_clock`, next to the bank's `at`),
so a test can tell which calls a skewed worker made. Both sleep a random moment after the effect, so kills land inside the window between
"the effect happened" and "the ledger knows it".
The model is the scripted test double (no LLM can be had deterministically here).
"""

import os
import random
import re
import time
from typing import Annotated

import psycopg
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolArg, tool

from langgraph_ollama_local import ApprovalPolicy, build_workflow
from langgraph_ollama_local.testing import ScriptedChatModel, tool_call

BANK = os.environ.get("CRASH_BANK_URL", "")
SCHEMA = """
CREATE TABLE IF NOT EXISTS bank_payments (key text PRIMARY KEY, thread text, amount int, at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS bank_attempts (key text, at timestamptz DEFAULT now(), process_clock double precision);
CREATE TABLE IF NOT EXISTS bank_wipes (target text, at timestamptz DEFAULT now(), process_clock double precision);
"""


def _bank() -> psycopg.Connection:
    return psycopg.connect(BANK, autocommit=True)


@tool
def pay(amount: int, thread: str, idempotency_key: Annotated[str | None, InjectedToolArg] = None) -> str:
    """Pay an amount on behalf of a thread."""
    with _bank() as conn:
        conn.execute("INSERT INTO bank_attempts (key, process_clock) VALUES (%s, %s)", (idempotency_key, time.time()))
        conn.execute(
            "INSERT INTO bank_payments (key, thread, amount) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING",
            (idempotency_key, thread, amount),
        )
    time.sleep(random.uniform(0.0, 0.4))
    return f"paid {amount}"


@tool
def wipe(target: str) -> str:
    """Delete a table's rows (a repeat would delete again)."""
    with _bank() as conn:
        conn.execute("INSERT INTO bank_wipes (target, process_clock) VALUES (%s, %s)", (target, time.time()))
    time.sleep(random.uniform(0.0, 0.4))
    return f"wiped {target}"


def script(messages):
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return AIMessage(content="Done.")
    if isinstance(last, HumanMessage):
        match = re.search(r"thread (\S+)", str(last.content))
        thread = match.group(1) if match else "?"
        return AIMessage(
            content="",
            tool_calls=[
                tool_call("pay", {"amount": 10, "thread": thread}),
                tool_call("wipe", {"target": f"logs_{thread}"}),
            ],
        )
    return AIMessage(content="Okay.")


policy = ApprovalPolicy.from_mapping(
    {
        "default": "allow",
        "tools": {
            "pay": {"allowed_decisions": ["approve", "reject"]},
            "wipe": {"allowed_decisions": ["approve", "reject"]},
        },
    }
)
graph = build_workflow(ScriptedChatModel(script=script), [pay, wipe], policy=policy).compile()
