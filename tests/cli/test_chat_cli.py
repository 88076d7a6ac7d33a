"""`hitl chat` driven for real: the chat loop with a scripted model and scripted keys,
and the installed console script with the real embedded model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from rich.console import Console

from langgraph_ollama_local import LocalAgentConfig, create_approval_agent
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.cli.chat import ChatSession, run_chat
from langgraph_ollama_local.cli.defaults import default_policy
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script


def session(tmp_path: Path, answers: list[str]) -> tuple[ChatSession, Console]:
    config = LocalAgentConfig(home=tmp_path)
    graph = create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        default_tools(config),
        policy=default_policy(config),
        checkpointer=InMemorySaver(),
    )
    console = Console(record=True, width=120, force_terminal=False)
    feed = iter(answers)

    def ask(prompt: str) -> str:
        console.print(prompt, end="")
        answer = next(feed)
        console.print(answer)
        return answer

    return ChatSession(graph, console, ask, "cli-test"), console


def outbox(tmp_path: Path) -> list[str]:
    return [str(message_from_bytes(p.read_bytes())["To"]) for p in sorted((tmp_path / "outbox").glob("*.eml"))]


def test_approve_sends(tmp_path):
    chat, console = session(tmp_path, ["Send email to bob@example.com", "a", "/quit"])
    run_chat(chat)
    assert outbox(tmp_path) == ["bob@example.com"]
    text = console.export_text()
    assert "approval needed" in text and "send_email" in text and "written to the local outbox" in text


def test_edit_sends_to_the_edited_recipient(tmp_path):
    chat, _ = session(tmp_path, ["Send email to bob@example.com", "e", "carol@example.com", "", "", "/quit"])
    run_chat(chat)
    assert outbox(tmp_path) == ["carol@example.com"]


def test_reject_sends_nothing_and_the_reason_reaches_the_agent(tmp_path):
    chat, console = session(tmp_path, ["Send email to bob@example.com", "r", "wrong recipient", "/quit"])
    run_chat(chat)
    assert outbox(tmp_path) == []
    assert "wrong recipient" in console.export_text()


def test_respond_answers_for_the_tool(tmp_path):
    chat, console = session(tmp_path, ["Send email to bob@example.com", "s", "Bob left the company", "/quit"])
    run_chat(chat)
    assert outbox(tmp_path) == []
    assert "Bob left the company" in console.export_text()


def test_unknown_answer_is_asked_again(tmp_path):
    chat, console = session(tmp_path, ["Send email to bob@example.com", "maybe", "a", "/quit"])
    run_chat(chat)
    assert "Please answer one of" in console.export_text()
    assert outbox(tmp_path) == ["bob@example.com"]


def test_markup_in_args_is_printed_literally(tmp_path):
    chat, console = session(tmp_path, ["Send email to x@example.com [bold red]<script>alert(1)</script>", "r", "no", "/quit"])
    run_chat(chat)
    assert "[bold red]<script>alert(1)</script>" in console.export_text()


def test_doctor_json(tmp_path):
    env = {**os.environ, "HITL_HOME": str(tmp_path), "HITL_PROVIDER": "embedded"}
    out = subprocess.run(
        [sys.executable, "-m", "langgraph_ollama_local.cli", "doctor", "--json"], capture_output=True, text=True, env=env
    )
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert out.returncode == 0, out.stdout + out.stderr
    assert checks["model file"]["ok"] and checks["storage"]["ok"] and checks["email"]["ok"]


def test_doctor_reports_bad_storage(tmp_path):
    env = {**os.environ, "HITL_HOME": str(tmp_path), "HITL_PROVIDER": "embedded",
           "HITL_STORAGE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    out = subprocess.run([sys.executable, "-m", "langgraph_ollama_local.cli", "doctor", "--json"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 1
    storage = next(c for c in json.loads(out.stdout) if c["name"] == "storage")
    assert not storage["ok"] and "Start the server" in storage["detail"]


@pytest.mark.embedded
def test_real_hitl_chat_with_the_embedded_model(tmp_path):
    """The installed console script, real model, SQLite file: approve an email."""
    hitl = Path(sys.executable).with_name("hitl")
    env = {**os.environ, "HITL_HOME": str(tmp_path), "COLUMNS": "120"}
    keys = "Send an email to bob@example.com saying hi\na\n/quit\n"
    out = subprocess.run(
        [str(hitl), "chat", "--provider", "embedded", "--db", f"sqlite:///{tmp_path}/chat.db", "--thread", "e2e"],
        input=keys, capture_output=True, text=True, env=env, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "approval needed" in out.stdout
    assert outbox(tmp_path) == ["bob@example.com"]
    assert (tmp_path / "chat.db").exists()
