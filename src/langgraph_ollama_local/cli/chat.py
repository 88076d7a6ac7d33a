"""`hitl chat`: wire the configured model, tools, policy and storage to the chat loop.

The loop itself is `cli.session.ChatSession`; this command only builds real parts and
says which ones it picked (provider and why, where the thread is stored).
"""

from __future__ import annotations

import importlib
import shlex
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from langgraph_ollama_local.cli.common import ProviderOption, load_config, make_console, user_errors

if TYPE_CHECKING:  # LangGraph and the chat loop load when `hitl chat` runs, not for every command
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from langgraph_ollama_local.cli.session import Ask


@contextmanager
def open_storage(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """`open_checkpointer`, with filesystem and SQLite failures said in one line."""
    from langgraph_ollama_local.store.checkpointer import StorageUnavailableError, open_checkpointer

    with ExitStack() as stack:
        try:
            saver = stack.enter_context(open_checkpointer(url))
        except (OSError, sqlite3.Error) as exc:
            raise StorageUnavailableError(
                f"cannot open the storage {url}: {exc}; fix --db or HITL_STORAGE_URL"
            ) from exc
        yield saver


def resume_command(thread_id: str, *, provider: str | None, db: str | None, policy: Path | None) -> str:
    """The command that continues this thread with the same storage and policy."""
    words = ["hitl", "chat", "--thread", thread_id]
    if provider:
        words += ["--provider", provider]
    if db:
        words += ["--db", db]
    if policy:
        words += ["--policy", str(policy)]
    return shlex.join(words)


def console_ask(console: Console) -> Ask:
    """Read a line at a rich prompt; arrow keys and history where readline exists."""
    with suppress(ImportError):
        importlib.import_module("readline")

    echo = not sys.stdin.isatty()

    def ask(prompt: Text) -> str:
        line = console.input(prompt)
        if echo:  # piped input is not shown by the terminal; keep the transcript readable
            console.print(Text(line))
        return line

    return ask


def chat(
    thread: Annotated[
        str | None, typer.Option("--thread", "-t", help="Thread id; give an existing one to continue it.")
    ] = None,
    provider: Annotated[
        ProviderOption | None, typer.Option(help="Model provider (default: HITL_PROVIDER or auto).")
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="Storage URL: sqlite:///file.db, postgresql://…, or memory.")
    ] = None,
    policy: Annotated[Path | None, typer.Option(help="Approval policy file (.yaml or .toml).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name (Ollama tag, OpenAI model id) or a .gguf file.")
    ] = None,
) -> None:
    """Chat with the agent; approve, edit, reject or answer its tool calls as it asks."""
    # Looked up at call time, so tests can put the scripted model in the provider's place.
    from langgraph_ollama_local.agent import create_approval_agent, default_tools
    from langgraph_ollama_local.agent.defaults import default_policy
    from langgraph_ollama_local.cli.session import ChatSession, new_thread_id, run_chat
    from langgraph_ollama_local.llm import create_chat_model, resolve_provider

    console = make_console()
    with user_errors():
        config = load_config(provider=provider, db=db, policy=policy, model=model)
        thread_id = thread or new_thread_id()
        tools = default_tools(config)
        approval_policy = default_policy(config)
        approval_policy.check_tools([t.name for t in tools])
        url = config.resolved_storage_url
        # Everything that can fail is opened before anything is printed, so a mistake
        # shows as exactly one line.
        with open_storage(url) as saver:
            choice = resolve_provider(config)
            chat_model = create_chat_model(config, choice)
            console.print(
                Text.assemble(("model  ", "dim"), (choice.name, "bold"), f" — {choice.reason}"),
                soft_wrap=True,
            )
            console.print(
                Text.assemble(
                    ("thread ", "dim"),
                    (thread_id, "bold"),
                    f" — stored in {url}" + (" (gone when you quit)" if url == "memory" else ""),
                ),
                soft_wrap=True,
            )
            graph = create_approval_agent(
                chat_model, tools, policy=approval_policy, checkpointer=saver, turns=config.turns
            )
            hint = resume_command(thread_id, provider=provider, db=db, policy=policy)
            session = ChatSession(
                graph, console, console_ask(console), thread_id, tools=tools, resume_hint=hint
            )
            run_chat(session)
