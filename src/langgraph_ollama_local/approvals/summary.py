"""One line a person reads before deciding: `Email to partner@example.com — "Agenda"`.

Pure. A tool names its own line through its metadata (`SUMMARY_METADATA`): a format
template over its arguments (`'Email to {to} — "{subject}"'`) or a function of them. Any
other tool gets `tool_name(key=value, …)`. Either way the line is one line (newlines and
runs of spaces folded) and at most `MAX_SUMMARY` characters, so a long body cannot push
the card's buttons off the screen and a model cannot forge a second line.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

SUMMARY_METADATA = "hitl_summary"
MAX_SUMMARY = 160
MAX_VALUE = 40

Summariser = str | Callable[[Mapping[str, Any]], str]


def summarize(tool: str, args: Mapping[str, Any], summariser: Any = None) -> str:
    """The tool's own line when it supplies one that works, else the generic one."""
    text: str | None = None
    if isinstance(summariser, str):
        text = _from_template(summariser, args)
    elif callable(summariser):
        try:
            made = summariser(args)
        except Exception:  # a broken summariser must not stop the approval from being asked
            made = None
        text = made if isinstance(made, str) else None
    if not text or not text.strip():
        text = generic_summary(tool, args)
    return one_line(text, MAX_SUMMARY)


def generic_summary(tool: str, args: Mapping[str, Any]) -> str:
    """`tool(key=value, …)`, each value cut to `MAX_VALUE` characters."""
    parts = [f"{key}={one_line(_show(value), MAX_VALUE)}" for key, value in args.items()]
    return f"{tool}({', '.join(parts)})"


def one_line(text: str, limit: int) -> str:
    """Whitespace folded to single spaces, cut with an ellipsis past `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _show(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else repr(value)
        if not isinstance(value, bool | int | float)
        else str(value)
    )


def _from_template(template: str, args: Mapping[str, Any]) -> str | None:
    """Fill `{name}` fields from the arguments; None if the template asks for anything else
    (an attribute, an index, a missing argument), so it falls back to the generic line."""
    values: dict[str, str] = {}
    try:
        for _, field, spec, conversion in string.Formatter().parse(template):
            if field is None:
                continue
            if spec or conversion or not field.isidentifier() or field not in args:
                return None
            values[field] = one_line(_show(args[field]), MAX_SUMMARY)
        return template.format_map(values)
    except (ValueError, KeyError, IndexError):
        return None
