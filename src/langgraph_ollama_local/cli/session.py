"""The `hitl chat` loop: stream the agent's turns and put each pending request to a human.

`ChatSession` takes a compiled graph, a console and an `ask` function (a prompt in, the
typed line out), so tests drive the real loop with a scripted model and scripted
answers, and the typer command only wires real parts around it.
"""

from __future__ import annotations

import json
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.pregel import Pregel
from langgraph.types import Command
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.status import Status
from rich.text import Text

from langgraph_ollama_local.approvals.errors import ApprovalError
from langgraph_ollama_local.approvals.gate import args_schema_of
from langgraph_ollama_local.approvals.requests import ActionView, batched_resume
from langgraph_ollama_local.cli.panels import (
    approval_panel,
    breakpoint_panel,
    edit_diff_panel,
    question_panel,
    value_panel,
)
from langgraph_ollama_local.llm.cancel import CancelOnToken, GenerationCancelled, cancel_scope
from langgraph_ollama_local.llm.errors import ModelNotFoundError, ProviderError, ProviderUnavailableError
from langgraph_ollama_local.runtime.local import ApprovalRunner, PendingItem, timeout_decision

Ask = Callable[[Text], str]
"""Shows a prompt and returns the typed line; raises EOFError/KeyboardInterrupt to leave."""

DECISION_KEYS = {"approve": "a", "edit": "e", "reject": "r", "respond": "s"}
_DECISION_LABELS = {
    "approve": ("", "a", "pprove"),
    "edit": ("", "e", "dit"),
    "reject": ("", "r", "eject"),
    "respond": ("re", "s", "pond"),
}
HELP = (
    "/pending review what waits for you · /thread show the thread id · /help · /quit (or Ctrl-D) · "
    "Ctrl-C stops an answer"
)
REASON_MAX = 4000  # the web inbox's reason field holds this much; the same rule here
STOPPED_NOTE = "[answer stopped by the user]"


class _Stop(Exception):
    """The human declined to answer now; the request stays pending in the checkpoint."""


def new_thread_id() -> str:
    return f"chat-{uuid.uuid4().hex[:8]}"


def prompt(label: str, hint: str = "") -> Text:
    """A prompt as `Text`, so defaults the model wrote are shown literally."""
    text = Text(label, style="bold")
    if hint:
        text.append(f" ({hint})", style="dim")
    return text.append("> ")


def _short(value: Any, limit: int = 60) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


def _provider_failures() -> tuple[type[Exception], ...]:
    """Exceptions a model server raises when it goes away or lacks the model mid-chat."""
    kinds: list[type[Exception]] = [httpx.HTTPError, ConnectionError]
    try:
        from ollama import ResponseError

        kinds.append(ResponseError)
    except ImportError:  # pragma: no cover - langchain-ollama brings it
        pass
    try:
        from openai import APIError

        kinds.append(APIError)
    except ImportError:  # pragma: no cover - langchain-openai brings it
        pass
    return tuple(kinds)


class _TurnPrinter:
    """Prints a run as it streams: tokens as they come, tool results, closing replies.

    The spinner runs while nothing is being printed, i.e. while the model thinks.
    """

    def __init__(self, console: Console, status: Status) -> None:
        self.console = console
        self.status = status
        self.open = False  # a reply's tokens are being printed on the current line
        self.open_id: str | None = None
        self.shown: set[str] = set()
        self.partial = ""  # what the reply being streamed has said so far

    def message(self, message: BaseMessage) -> None:
        if isinstance(message, AIMessageChunk):
            text = str(message.text)
            if not text:
                return
            if not self.open or message.id != self.open_id:
                self.end_line()
                self.status.stop()
                self.console.print(Text("agent> ", style="bold cyan"), end="")
                self.open, self.open_id, self.partial = True, message.id, ""
                if message.id:
                    self.shown.add(message.id)
            self.partial += text
            self.console.print(Text(text), end="", soft_wrap=True)
        elif isinstance(message, AIMessage):
            # A model that does not stream, or a reply the gate wrote ("I stopped here").
            if (message.id and message.id in self.shown) or not str(message.text):
                return
            self.end_line()
            self.status.stop()
            self.console.print(Text.assemble(("agent> ", "bold cyan"), str(message.text)), soft_wrap=True)
            if message.id:
                self.shown.add(message.id)
            self.status.start()
        elif isinstance(message, ToolMessage):
            self.end_line()
            self.status.stop()
            style = "yellow" if message.status == "error" else "dim"
            name = f"{message.name}: " if message.name else ""
            self.console.print(Text(f"  ↳ {name}{message.content}", style=style), soft_wrap=True)
            self.status.start()

    def node_done(self, node: str) -> None:
        if node == "agent":
            self.end_line()
            self.status.start()

    def end_line(self) -> None:
        if self.open:
            self.console.print()
            self.open, self.open_id = False, None


class ChatSession:
    """One terminal conversation on one thread of an approval-gated graph.

    Give `tools` (the graph's tools) to check edited arguments against their schemas
    before sending; the graph checks them again either way.
    """

    def __init__(
        self,
        graph: Pregel[Any, Any, Any, Any],
        console: Console,
        ask: Ask,
        thread_id: str,
        *,
        tools: Sequence[BaseTool] = (),
        resume_hint: str | None = None,
    ) -> None:
        self.graph = graph
        self.console = console
        self.ask = ask
        self.thread_id = thread_id
        self.runner = ApprovalRunner(graph)
        self.schemas = {t.name: args_schema_of(t) for t in tools}
        self.resume_hint = resume_hint or f"hitl chat --thread {thread_id}"

    # -- running -------------------------------------------------------------------------

    def stream(self, graph_input: Any) -> bool:
        """Run until the graph ends or pauses, printing what happens as it happens.

        False when the person stopped the answer with Ctrl-C: the model stops generating
        (`llm/cancel.py`), the stopped turn is closed in the thread, and the chat goes on.
        """
        failures = _provider_failures()
        with (
            cancel_scope() as stop,
            ctrl_c_stops(stop),
            self.console.status("thinking…", spinner="dots") as status,
        ):
            config = self.runner.config(self.thread_id)
            config["callbacks"] = [CancelOnToken(stop)]
            printer = _TurnPrinter(self.console, status)
            try:
                for mode, data in self.graph.stream(graph_input, config, stream_mode=["messages", "updates"]):
                    if mode == "messages" and isinstance(data, tuple):
                        printer.message(data[0])
                    elif mode == "updates" and isinstance(data, Mapping):
                        for node in data:
                            printer.node_done(str(node))
            except GenerationCancelled:
                printer.end_line()
                status.stop()
                self._close_stopped_turn(printer.partial)
                return False
            except failures as exc:
                raise self._provider_error(exc) from exc
            finally:
                printer.end_line()
        return True

    def _close_stopped_turn(self, partial: str) -> None:
        """Record the stopped answer as the model's reply, so the thread is not left half-way
        through a turn (a new message then starts a new one). Only when the graph stopped
        before one node that was answering the last message; otherwise the run stays paused
        where it stopped, and /pending offers to continue it."""
        config = self.runner.config(self.thread_id)
        snapshot = self.graph.get_state(config)
        values = snapshot.values
        messages = values.get("messages") if isinstance(values, Mapping) else None
        answering = (
            isinstance(messages, list)
            and bool(messages)
            and not (isinstance(messages[-1], AIMessage) and messages[-1].tool_calls)
        )
        closed = False
        if len(snapshot.next) == 1 and not snapshot.interrupts and answering:
            said = partial.strip()
            reply = AIMessage(content=f"{said} … {STOPPED_NOTE}" if said else STOPPED_NOTE)
            try:
                self.graph.update_state(config, {"messages": [reply]}, as_node=snapshot.next[0])
                closed = not self.graph.get_state(config).next
            except Exception:  # a graph of another shape refuses the update: leave the run paused
                closed = False
        hint = "ask again or go on." if closed else "/pending continues the stopped run."
        self.console.print(Text(f"Stopped: the answer was cancelled; {hint}", style="yellow"))

    def _provider_error(self, exc: Exception) -> ProviderError:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if "not found" in detail.lower():
            return ModelNotFoundError(
                f"the model server does not have the model ({detail}); pull it (e.g. `ollama pull …`) "
                f"and resume with `{self.resume_hint}`"
            )
        return ProviderUnavailableError(
            f"the model server stopped answering ({type(exc).__name__}: {detail}); start it again "
            f"(`hitl doctor` says how) and resume with `{self.resume_hint}`"
        )

    def send(self, text: str) -> None:
        """One user turn: run it, then settle whatever it paused on."""
        if self.runner.pending(self.thread_id):
            self.console.print(Text("This thread waits for your answer first.", style="yellow"))
            self.review_pending()
            return
        if self.stream({"messages": [("user", text)]}):
            self.review_pending()

    # -- pending requests -----------------------------------------------------------------

    def review_pending(self) -> bool:
        """Ask about each pending request until the run ends; False if the human stopped."""
        retry_of: str | None = None
        while items := self.runner.pending(self.thread_id):
            item = items[0]
            if len(items) > 1:
                self.console.print(Text(f"{len(items)} requests wait on this thread.", style="dim"))
            try:
                answer = self.answer_for(
                    item, show=item.interrupt_id is None or item.interrupt_id != retry_of
                )
            except _Stop:
                self.console.print(Text("Left pending; /pending asks again.", style="dim"))
                return False
            if item.interrupt_id is None:  # a breakpoint, or a run cut short
                if not self.stream(None):
                    return True
                continue
            answer = self._too_late(item, answer)
            try:
                self.runner.check_pending(self.thread_id, {item.interrupt_id})
                if not self.stream(Command(resume={item.interrupt_id: answer})):
                    return True
                retry_of = None
            except ValidationError as exc:
                # The graph refused the answer before saving anything: ask again.
                self.console.print(
                    Text.assemble(
                        ("Not accepted: ", "bold red"),
                        _validation_message(exc),
                        (" — nothing was changed, answer again.", "dim"),
                    )
                )
                retry_of = item.interrupt_id
            except ApprovalError as exc:
                self.console.print(Text(str(exc), style="yellow"))
        return True

    def _too_late(self, item: PendingItem, answer: Any) -> Any:
        """Past its deadline, the request is settled by its policy, not by the late answer."""
        if item.deadline is None or item.view is None:
            return answer
        now = self.runner.clock()
        if now <= item.deadline:
            return answer
        decision = timeout_decision(item.view, (now - item.seen_at).total_seconds())
        self.console.print(
            Text(
                f"The deadline passed before your answer, so the policy decides: {decision['type']}.",
                style="yellow",
            )
        )
        return decision

    def answer_for(self, item: PendingItem, *, show: bool = True) -> Any:
        """Ask the human about one pending item; the value to resume with."""
        if item.interrupt_id is None:
            return self._breakpoint(item, show)
        view = item.view
        assert view is not None
        if view.kind == "question":
            return self._question(item, show)
        if view.kind == "batched_approval":
            decisions = {}
            for index, action in enumerate(view.actions):
                position = f"{index + 1} of {len(view.actions)}"
                if show:
                    self.console.print(approval_panel(action, item, position=position))
                decisions[index] = self.decide(action)
            return batched_resume(view, decisions)
        action = view.actions[0]
        if show:
            self.console.print(approval_panel(action, item))
        return self.decide(action)

    def _breakpoint(self, item: PendingItem, show: bool) -> bool:
        snapshot = self.graph.get_state(self.runner.config(self.thread_id))
        errors = [f"{t.name}: {type(t.error).__name__}: {t.error}" for t in snapshot.tasks if t.error]
        if show:
            self.console.print(breakpoint_panel(item.next_nodes, "; ".join(errors) or None))
        while True:
            reply = self.ask(prompt("continue?", "y/n")).strip().lower()
            if reply in ("y", "yes"):
                return True
            if reply in ("n", "no"):
                raise _Stop
            self.console.print(Text("Please answer y or n.", style="yellow"))

    def _question(self, item: PendingItem, show: bool) -> str:
        assert item.view is not None
        raw = item.view.raw
        choices = [str(c) for c in raw.get("choices") or ()] if isinstance(raw, Mapping) else []
        if show:
            self.console.print(question_panel(item.view, choices))
        while True:
            reply = self.ask(prompt("your answer", " / ".join(choices))).strip()
            if reply:
                return reply
            self.console.print(Text("An empty answer cannot be sent; type your answer.", style="yellow"))

    def decide(self, action: ActionView) -> dict[str, Any]:
        """Offer only the decisions the request allows; return one in LangChain's shape."""
        allowed = [d for d in action.allowed_decisions if d in DECISION_KEYS]
        if not allowed:
            self.console.print(
                Text(f"This request allows {list(action.allowed_decisions)}; none can be given here.")
            )
            raise _Stop
        question = Text()
        for index, decision in enumerate(allowed):
            before, key, after = _DECISION_LABELS[decision]
            question.append(" / " if index else "").append(before)
            question.append(f"[{key}]", "bold").append(after)
        question.append("? ")
        while True:
            reply = self.ask(question).strip().lower()
            choice = next((d for d in allowed if reply in (d, DECISION_KEYS[d])), None)
            if choice == "approve":
                return {"type": "approve"}
            if choice == "reject":
                return {"type": "reject", "message": self.reject_reason()}
            if choice == "respond":
                text = self.ask(prompt("reply to the agent instead of running the tool")).strip()
                if text:
                    return {"type": "respond", "message": text}
                self.console.print(Text("A reply cannot be empty.", style="yellow"))
                continue
            if choice == "edit":
                args = self.edit_args(action)
                if args is not None:
                    return {"type": "edit", "edited_action": {"name": action.name, "args": args}}
                continue
            self.console.print(Text(f"Please answer one of: {', '.join(allowed)}.", style="yellow"))

    def reject_reason(self) -> str:
        """A reason is required, as in the web inbox: the agent and the audit trail read it."""
        while True:
            reason = self.ask(prompt("reason, told to the agent", "required")).strip()
            if not reason:
                self.console.print(
                    Text(
                        "A reason is required (as on the web): say why, for the agent and the audit trail.",
                        style="yellow",
                    )
                )
            elif len(reason) > REASON_MAX:
                self.console.print(
                    Text(
                        f"At most {REASON_MAX} characters (yours has {len(reason)}); shorten it.",
                        style="yellow",
                    )
                )
            else:
                return reason

    # -- editing ---------------------------------------------------------------------------

    def edit_args(self, action: ActionView) -> dict[str, Any] | None:
        """New arguments, asked one by one (Enter keeps a value) or as one JSON object.

        Returns None, after saying why, when the edit does not fit the tool: nothing
        was sent, and the decision is asked again.
        """
        self.console.print(
            Text(
                "Edit the arguments: Enter keeps a value; or type a JSON object of the ones to change.",
                style="dim",
            )
        )
        edited = dict(action.args)
        keys = list(action.args)
        if not keys:
            reply = self.ask(prompt("arguments as a JSON object")).strip()
            return self._json_edit(action, reply) if reply else edited
        for index, key in enumerate(keys):
            current = action.args[key]
            hint = _short(current)
            if hint.endswith("…") or "\n" in str(current):  # too long for a prompt: shown whole above it
                self.console.print(value_panel(key, current))
                hint = "Enter keeps the value above"
            reply = self.ask(prompt(key, hint))
            if index == 0 and reply.strip().startswith("{") and not isinstance(current, Mapping):
                return self._json_edit(action, reply)
            if reply == "":
                continue
            edited[key] = reply if isinstance(current, str) else _json_or_text(reply)
        return self._checked(action, edited)

    def _json_edit(self, action: ActionView, reply: str) -> dict[str, Any] | None:
        try:
            changes = json.loads(reply)
        except ValueError as exc:
            return self._refuse(f"that is not valid JSON ({exc})")
        if not isinstance(changes, dict):
            return self._refuse('give a JSON object, e.g. {"to": "someone@example.com"}')
        return self._checked(action, {**action.args, **changes})

    def _checked(self, action: ActionView, args: dict[str, Any]) -> dict[str, Any] | None:
        problem = check_args(self.schemas.get(action.name), args)
        if problem:
            return self._refuse(problem)
        return self._confirmed(action, args)

    def _confirmed(self, action: ActionView, args: dict[str, Any]) -> dict[str, Any] | None:
        """Show old → new for what changed and send only on a yes; None (asked again) on a no."""
        if args == dict(action.args):
            self.console.print(Text("No argument changed; nothing was sent.", style="yellow"))
            return None
        self.console.print(edit_diff_panel(action.name, action.args, args))
        while True:
            reply = self.ask(prompt("send the edited call?", "y/n")).strip().lower()
            if reply in ("y", "yes"):
                return args
            if reply in ("n", "no"):
                self.console.print(Text("Not sent; decide again.", style="dim"))
                return None
            self.console.print(Text("Please answer y or n.", style="yellow"))

    def _refuse(self, problem: str) -> dict[str, Any] | None:
        """Say why an edit was not sent; None, so the decision is asked again."""
        self.console.print(
            Text.assemble(("Not accepted: ", "bold red"), problem, (" — nothing was sent.", "dim"))
        )
        return None

    # -- commands ----------------------------------------------------------------------------

    def command(self, text: str) -> bool:
        """Run a `/command`; False when the chat should end."""
        name = text.split()[0].lower()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/pending":
            if not self.runner.pending(self.thread_id):
                self.console.print(Text("Nothing waits for you on this thread.", style="dim"))
            else:
                self.review_pending()
        elif name == "/thread":
            self.console.print(
                Text(f"thread {self.thread_id} — resume with: {self.resume_hint}"), soft_wrap=True
            )
        elif name == "/help":
            self.console.print(Text(HELP, style="dim"), soft_wrap=True)
        else:
            self.console.print(Text(f"Unknown command {name}. {HELP}", style="yellow"))
        return True

    def greet(self) -> None:
        values = self.graph.get_state(self.runner.config(self.thread_id)).values
        if values:
            messages = values.get("messages") if isinstance(values, Mapping) else None
            count = f" ({len(messages)} messages)" if isinstance(messages, list) else ""
            self.console.print(Text(f"Resuming thread {self.thread_id}{count}.", style="dim"))
            last = self.runner.last_reply(self.thread_id) if count else ""
            if last:
                self.console.print(Text.assemble(("agent> ", "bold cyan"), last), soft_wrap=True)
        else:
            self.console.print(Text(f"New thread {self.thread_id}.", style="dim"))
        self.console.print(Text(HELP, style="dim"), soft_wrap=True)


def _json_or_text(reply: str) -> Any:
    """A non-string argument typed as JSON (`3`, `true`, `[1, 2]`); else the text itself."""
    try:
        return json.loads(reply)
    except ValueError:
        return reply


def check_args(schema: type[BaseModel] | None, args: Mapping[str, Any]) -> str | None:
    """Why `args` do not fit the tool's schema, or None. Unknown names are refused:
    an argument the tool does not take is a typo that would be silently dropped."""
    if schema is None:
        return None
    known = set(schema.model_fields) | {f.alias for f in schema.model_fields.values() if f.alias}
    unknown = sorted(set(args) - known)
    if unknown:
        return f"unknown argument(s) {unknown}; the tool takes {sorted(schema.model_fields)}"
    try:
        schema.model_validate(dict(args))
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors())
    return None


@contextmanager
def ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While an answer streams, the first Ctrl-C sets `stop` (the answer ends, the chat goes
    on); a second one interrupts as usual. Only the main thread can own SIGINT; elsewhere
    (and where Python's handler is not installed) this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return

    def first_stops(signum: int, frame: Any) -> None:
        if stop.is_set():
            previous(signum, frame)  # pressed again: leave as Ctrl-C always did
        stop.set()

    signal.signal(signal.SIGINT, first_stops)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_chat(session: ChatSession) -> None:
    """Greet, settle what is pending, then chat until /quit, Ctrl-D or Ctrl-C."""
    console = session.console
    try:
        session.greet()
        session.review_pending()
        while True:
            text = session.ask(Text("you> ", style="bold green")).strip()
            if not text:
                continue
            if text.startswith("/"):
                if not session.command(text):
                    break
                continue
            session.send(text)
    except (EOFError, KeyboardInterrupt):
        console.print()
    console.print(Text(f"Bye. Resume with: {session.resume_hint}", style="dim"), soft_wrap=True)
