"""How a pending approval, question or breakpoint looks in the terminal.

Everything the model wrote (tool names, arguments, questions) goes into `Text` and
`JSON` renderables, never through rich markup: an argument like `[bold]` or
`<script>` must print exactly as the model wrote it, or a reviewer approves something
other than what they read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.panel import Panel
from rich.text import Text

from langgraph_ollama_local.approvals.requests import ActionView, InterruptView
from langgraph_ollama_local.runtime.local import PendingItem


def approval_panel(action: ActionView, item: PendingItem, *, position: str = "") -> Panel:
    """One tool call awaiting a decision: name, arguments, stage, role, deadline, description."""
    view = item.view
    parts: list[RenderableType] = [Text.assemble(("tool  ", "dim"), (action.name, "bold"))]
    parts.append(wrapped_json(action.args))
    details = Text()
    if view is not None and (view.stage or view.role):
        details.append("stage ", "dim").append(str(view.stage or "-"))
        details.append("   role ", "dim").append(str(view.role or "-"))
    if item.deadline is not None:
        details.append("\ndecide by ", "dim").append(f"{item.deadline:%Y-%m-%d %H:%M:%S %Z}")
        if view is not None and view.on_timeout:
            outcome = view.on_timeout
            if outcome == "escalate" and view.escalate_to:
                outcome = f"escalate to {view.escalate_to}"
            details.append(" (then: ", "dim").append(outcome).append(")", "dim")
    if details:
        parts.append(details)
    parts.extend(provenance_lines(view.raw if view is not None else None))
    # Our gate's default description only repeats the arguments; a policy's own says more.
    if action.description and action.description != f"Approve {action.name} with args {action.args}?":
        parts.append(Text(action.description, style="italic"))
    title = Text.assemble("approval needed", (f" {position}" if position else "", "dim"))
    return Panel(Group(*parts), title=title, title_align="left", border_style="yellow")


def wrapped_json(data: Any) -> Text:
    """Pretty, highlighted JSON whose long lines wrap inside the panel instead of being cut:
    rich's `JSON` never wraps, so a long body or URL lost its end, which a reviewer must see."""
    text = JSON.from_data(data, indent=2, ensure_ascii=False, default=repr).text
    text.no_wrap = False
    text.overflow = "fold"  # a long word (a URL, a token) folds onto the next line
    return text


def shown(value: Any, style: str = "") -> Text:
    """A value as a person reads it: strings literally, anything else as JSON; wrapping."""
    plain = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=repr)
    return Text(plain, style=style, overflow="fold")


def value_panel(key: str, value: Any) -> Panel:
    """One argument's whole current value, before asking for a new one."""
    return Panel(
        shown(value), title=Text.assemble(("current ", "dim"), key), title_align="left", border_style="dim"
    )


def edit_diff_panel(tool: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Panel:
    """What an edit changes, old → new, argument by argument; unchanged ones named once."""
    parts: list[RenderableType] = []
    unchanged = []
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        if before == after:
            unchanged.append(key)
            continue
        parts.append(Text(key, style="bold"))
        if before is not _MISSING:
            parts.append(Text.assemble(("- ", "red"), shown(before, "red"), overflow="fold"))
        if after is not _MISSING:
            parts.append(Text.assemble(("+ ", "green"), shown(after, "green"), overflow="fold"))
    if unchanged:
        parts.append(Text.assemble(("unchanged: ", "dim"), ", ".join(unchanged)))
    title = Text.assemble("your edit of ", (tool, "bold"))
    return Panel(Group(*parts), title=title, title_align="left", border_style="cyan")


_MISSING = object()

_SOURCE_LABELS = {
    "user": "from the user",
    "tool_result": "only in a tool result",
    "model": "written by the model",
}


def provenance_lines(payload: object) -> list[RenderableType]:
    """The gate's flags (ungrounded key arguments) and where each argument came from."""
    hitl = payload.get("hitl") if isinstance(payload, dict) else None
    provenance = hitl.get("provenance") if isinstance(hitl, dict) else None
    if not isinstance(provenance, dict):
        return []
    lines: list[RenderableType] = [
        Text(f"⚠ {flag.get('message')}", style="bold red") for flag in provenance.get("flags") or []
    ]
    groups: dict[str, list[str]] = {}
    for argument in provenance.get("arguments") or []:
        groups.setdefault(str(argument.get("source")), []).append(str(argument.get("path")))
    if groups:
        summary = Text()
        for index, (source, paths) in enumerate(groups.items()):
            if index:
                summary.append(" · ", "dim")
            summary.append(", ".join(paths)).append(f" {_SOURCE_LABELS.get(source, source)}", "dim")
        lines.append(summary)
    return lines


def question_panel(view: InterruptView, choices: Sequence[str] = ()) -> Panel:
    """A free-form question the graph asked with `interrupt()`."""
    body = Text(view.question or "")
    if choices:
        body.append("\nchoices: ", "dim").append(", ".join(choices))
    return Panel(body, title="the agent asks", title_align="left", border_style="cyan")


def breakpoint_panel(next_nodes: Sequence[str], error: str | None = None) -> Panel:
    """A run stopped before a node: a static breakpoint, or a run cut short by an error."""
    nodes = ", ".join(next_nodes) or "?"
    if error:
        body = Text.assemble("The last run stopped with an error before ", (nodes, "bold"), ":\n", error)
        return Panel(body, title="run stopped", title_align="left", border_style="red")
    body = Text.assemble("The run is paused before ", (nodes, "bold"), ".")
    return Panel(body, title="breakpoint", title_align="left", border_style="yellow")
