"""Helpers for driving the real chat loop with a scripted model and scripted keystrokes."""

from __future__ import annotations

from collections.abc import Iterable
from email import message_from_bytes
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from rich.console import Console
from rich.text import Text

from langgraph_ollama_local import LocalAgentConfig, create_approval_agent
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.agent.defaults import default_policy
from langgraph_ollama_local.cli.session import ChatSession
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script


class Keys:
    """Answers prompts from a list, echoing both like a terminal; EOFError (Ctrl-D) when out."""

    def __init__(self, console: Console, answers: Iterable[str | BaseException]) -> None:
        self.console = console
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: Text) -> str:
        self.prompts.append(prompt.plain)
        self.console.print(prompt, end="")
        if not self.answers:
            raise EOFError
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        self.console.print(Text(answer))
        return answer


def make_console() -> Console:
    """Like the real one (no emoji, no highlighting), recorded, never a terminal."""
    return Console(record=True, width=140, force_terminal=False, highlight=False, emoji=False)


def outbox(home: Path) -> list[str]:
    """Recipients of the .eml files `send_email` wrote, oldest first."""
    return [str(message_from_bytes(p.read_bytes())["To"]) for p in sorted((home / "outbox").glob("*.eml"))]


@pytest.fixture
def config(tmp_path, monkeypatch) -> LocalAgentConfig:
    for name in ("HITL_SMTP__HOST", "HITL_POLICY_FILE", "HITL_STORAGE_URL", "HITL_OUTBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    return LocalAgentConfig(home=tmp_path)


@pytest.fixture
def make_session(config):
    """`make_session(answers, ...)` -> (session, keys, console) on a scripted email assistant."""

    def build(
        answers: Iterable[str | BaseException],
        *,
        graph=None,
        check_locally: bool = True,
        thread_id: str = "cli-test",
    ) -> tuple[ChatSession, Keys, Console]:
        tools = default_tools(config)
        if graph is None:
            graph = create_approval_agent(
                ScriptedChatModel(script=email_assistant_script),
                tools,
                policy=default_policy(config),
                checkpointer=InMemorySaver(),
            )
        console = make_console()
        keys = Keys(console, answers)
        session = ChatSession(graph, console, keys, thread_id, tools=tools if check_locally else ())
        return session, keys, console

    return build
