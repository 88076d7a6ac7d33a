"""`hitl chat`: a terminal conversation where you approve the agent's actions.

The loop takes a compiled graph, a console and an input function, so tests drive it
with a scripted model and scripted answers; the typer command only wires real parts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, cast

from langchain_core.messages import AIMessageChunk
from langgraph.pregel import Pregel
from langgraph.types import Command
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from langgraph_ollama_local.approvals.requests import ActionView
from langgraph_ollama_local.runtime.local import ApprovalRunner, PendingItem

Ask = Callable[[str], str]

_CHOICES = {"approve": "a", "edit": "e", "reject": "r", "respond": "s"}


class ChatSession:
    """One terminal conversation on one thread."""

    def __init__(self, graph: Pregel[Any, Any, Any, Any], console: Console, ask: Ask, thread_id: str) -> None:
        self.graph = graph
        self.console = console
        self.ask = ask
        self.thread_id = thread_id
        self.runner = ApprovalRunner(graph)

    def stream(self, graph_input: Any) -> None:
        """Run until the graph ends or pauses, printing the model's tokens as they come."""
        config = self.runner.config(self.thread_id)
        printed = False
        with self.console.status("[dim]thinking…[/dim]", spinner="dots") as status:
            for part in self.graph.stream(graph_input, config, stream_mode=["messages", "updates"]):
                mode, chunk = cast(tuple[str, Any], part)
                if mode == "messages":
                    message, meta = chunk
                    if (
                        isinstance(message, AIMessageChunk)
                        and message.content
                        and meta.get("langgraph_node") == "agent"
                    ):
                        if not printed:
                            status.stop()
                            self.console.print("[bold cyan]agent>[/bold cyan] ", end="")
                            printed = True
                        self.console.print(escape(str(message.content)), end="", soft_wrap=True)
                elif mode == "updates" and "tools" in (chunk or {}):
                    for tool_message in chunk["tools"].get("messages", []):
                        if getattr(tool_message, "type", "") == "tool":
                            self.console.print(f"[dim]  ↳ {escape(str(tool_message.content))}[/dim]")
        if printed:
            self.console.print()

    def send(self, text: str) -> None:
        self.stream({"messages": [("user", text)]})
        self.review_pending()

    def review_pending(self) -> None:
        while items := self.runner.pending(self.thread_id):
            item = items[0]
            answer = self.decide(item)
            if answer is None:
                return
            if item.kind == "breakpoint":
                self.stream(None)
                continue
            try:
                self.runner.check_pending(self.thread_id, {item.interrupt_id or ""})
                self.stream(Command(resume={item.interrupt_id: answer}))
            except ValidationError as exc:
                problems = "; ".join(str(e["msg"]) for e in exc.errors())
                self.console.print(
                    f"[red]Not accepted:[/red] {escape(problems)} — nothing was changed, try again."
                )

    def decide(self, item: PendingItem) -> Any:
        view = item.view
        if item.kind == "breakpoint":
            self.console.print(Panel(f"Paused before {', '.join(item.next_nodes)}", title="breakpoint"))
            return {} if self.ask("continue? [y/n] ").strip().lower().startswith("y") else None
        assert view is not None
        if item.kind == "question":
            self.console.print(Panel(escape(view.question or ""), title="the agent asks"))
            return self.ask("your answer> ")
        action = view.actions[0]
        self.show(action, item)
        allowed = [d for d in action.allowed_decisions if d in _CHOICES]
        prompt = " / ".join(f"[{_CHOICES[d]}]{d[1:] if _CHOICES[d] == d[0] else ' ' + d}" for d in allowed)
        while True:
            choice = self.ask(f"{prompt}? ").strip().lower()
            decision = next((d for d in allowed if choice in (d, _CHOICES[d])), None)
            if decision == "approve":
                return {"type": "approve"}
            if decision == "reject":
                return {
                    "type": "reject",
                    "message": self.ask("reason> ").strip() or "rejected in the terminal",
                }
            if decision == "respond":
                return {"type": "respond", "message": self.ask("tool result to give the agent> ")}
            if decision == "edit":
                return {"type": "edit", "args": self.edit_args(action)}
            self.console.print(f"[yellow]Please answer one of: {', '.join(allowed)}[/yellow]")

    def edit_args(self, action: ActionView) -> dict[str, Any]:
        edited: dict[str, Any] = {}
        for key, value in action.args.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            new = self.ask(f"{key} [{shown}]> ")
            edited[key] = value if new == "" else new
        return edited

    def show(self, action: ActionView, item: PendingItem) -> None:
        view = item.view
        assert view is not None
        args = escape(json.dumps(action.args, indent=2, ensure_ascii=False))
        lines = [f"[bold]{escape(action.name)}[/bold]", args]
        if view.stage or view.role:
            lines.append(f"stage: {escape(str(view.stage))}   role: {escape(str(view.role))}")
        if item.deadline:
            lines.append(f"decide by {item.deadline:%Y-%m-%d %H:%M:%S %Z} (then: {view.on_timeout})")
        self.console.print(Panel("\n".join(lines), title="approval needed", border_style="yellow"))


def run_chat(session: ChatSession) -> None:
    console = session.console
    console.print(f"[dim]thread {session.thread_id} — /quit to leave, /pending to review[/dim]")
    session.review_pending()
    while True:
        try:
            text = session.ask("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            text = "/quit"
        if text in ("/quit", "/exit"):
            console.print(f"[dim]resume later with: hitl chat --thread {session.thread_id}[/dim]")
            return
        if text == "/pending":
            session.review_pending()
        elif text == "/thread":
            console.print(session.thread_id)
        elif text:
            session.send(text)


def new_thread_id() -> str:
    return f"chat-{uuid.uuid4().hex[:8]}"
