"""Turn a small model's text into LangChain tool calls.

Qwen writes `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`; small models also
emit the same JSON bare or in a ```json fence. Calls to tools that were not offered are
kept (the approval gate refuses them visibly) — never dropped or renamed here.
Malformed JSON stays visible text.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from typing import Any

from langchain_core.messages import ToolCall

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def _as_call(obj: Any) -> ToolCall | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args: Any = next((obj[k] for k in ("arguments", "args", "parameters") if k in obj), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return None
    if not isinstance(args, dict):
        return None
    return ToolCall(name=obj["name"], args=args, id=f"call_{uuid.uuid4().hex}", type="tool_call")


def _json_values(text: str) -> list[Any] | None:
    """One JSON value, or several written one after another (small models do that)."""
    decoder = json.JSONDecoder()
    values, index = [], 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            break
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError:
            return None
        values.append(value)
    return values or None


def _calls_from_json(text: str) -> list[ToolCall] | None:
    values = _json_values(text)
    if values is None:
        return None
    items = [item for value in values for item in (value if isinstance(value, list) else [value])]
    calls = [_as_call(item) for item in items]
    if not calls or any(c is None for c in calls):
        return None
    return [c for c in calls if c is not None]


def parse_tool_calls(text: str, tool_names: Collection[str] = ()) -> tuple[str, list[ToolCall]]:
    """Return `(visible_text, tool_calls)`. `tool_names` is informational only."""
    for pattern in (_TAGGED, _FENCED):  # Qwen's own format first, then fenced JSON
        calls: list[ToolCall] = []
        remaining = text
        for match in list(pattern.finditer(text)):
            parsed = _calls_from_json(match.group(1))
            if parsed:
                calls.extend(parsed)
                remaining = remaining.replace(match.group(0), "", 1)
        if calls:
            return remaining.strip(), calls
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        parsed = _calls_from_json(stripped)
        if parsed:
            return "", parsed
    return text.strip(), []
