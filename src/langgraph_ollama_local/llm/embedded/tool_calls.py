"""Turn a small model's text into LangChain tool calls (pure: no llama.cpp import).

Qwen writes `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`; small models also
emit the same JSON bare or in a ```json fence, sometimes several calls in a row. Calls
naming tools that were not offered are kept as they are (the approval gate refuses them
visibly) — never dropped or renamed here, because silently changing what the model asked
for would hide it from the human. Malformed JSON never raises: it stays visible text. That
includes JSON nested too deeply for Python's decoder and the non-standard NaN/Infinity
(which could slip a number past a policy's `gt` condition).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from typing import Any

from langchain_core.messages import ToolCall

_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)
_FENCED = re.compile(r"```[ \t]*(?:json|JSON|tool_call)?[ \t]*\n?(.*?)```", re.DOTALL)
# Where a bare JSON call could start: `{"` or `[{` (skips the many other braces in code).
_BARE_START = re.compile(r"\{\s*\"|\[\s*\{")
_ARG_KEYS = ("arguments", "args", "parameters")
# What a hostile text can make `json` raise besides ValueError: nesting past the recursion limit.
_UNDECODABLE = (ValueError, RecursionError)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decoder() -> json.JSONDecoder:
    """Strict JSON: NaN, Infinity and -Infinity are refused like any other invalid token."""
    return json.JSONDecoder(parse_constant=_no_constant)


def _loads(text: str) -> Any:
    return _decoder().decode(text)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex}"


def _as_call(obj: Any, *, need_args: bool) -> ToolCall | None:
    """A ToolCall from `{"name", "arguments"|"args"|"parameters"}` (or OpenAI's `function` wrapper)."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict) and "name" not in obj:
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    key = next((k for k in _ARG_KEYS if k in obj), None)
    if key is None and need_args:
        return None
    args: Any = obj[key] if key is not None else {}
    if args is None:
        args = {}
    if isinstance(args, str):
        try:
            args = _loads(args) if args.strip() else {}
        except _UNDECODABLE:
            return None
    if not isinstance(args, dict):
        return None
    return ToolCall(name=name.strip(), args=args, id=new_call_id(), type="tool_call")


def _calls_in(value: Any, *, need_args: bool) -> list[ToolCall] | None:
    """All calls in one decoded JSON value (an object or a list of them), else None."""
    items = value if isinstance(value, list) else [value]
    calls = [_as_call(item, need_args=need_args) for item in items]
    if not calls or any(call is None for call in calls):
        return None
    return [call for call in calls if call is not None]


def _decode_all(text: str, *, lenient: bool) -> list[Any] | None:
    """One JSON value or several in a row. `lenient` tolerates what small models get wrong
    inside an explicit `<tool_call>`: stray closing braces after the value, or one or two
    missing at the end."""
    decoder = _decoder()
    values: list[Any] = []
    index, end = 0, len(text)
    while True:
        while index < end and text[index].isspace():
            index += 1
        if index == end:
            return values or None
        try:
            value, index = decoder.raw_decode(text, index)
        except _UNDECODABLE:
            if not lenient:
                return None
            rest = text[index:].strip()
            if values and not rest.strip("}]"):
                return values
            for extra in ("}", "}}"):
                try:
                    values.append(_loads(rest + extra))
                    return values
                except _UNDECODABLE:
                    continue
            return None
        values.append(value)


def _calls_from_block(body: str, *, need_args: bool, lenient: bool) -> list[ToolCall] | None:
    values = _decode_all(body, lenient=lenient)
    if values is None:
        return None
    calls: list[ToolCall] = []
    for value in values:
        found = _calls_in(value, need_args=need_args)
        if found is None:
            return None
        calls.extend(found)
    return calls or None


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int, list[ToolCall]]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end, _ in taken)


def parse_tool_calls(text: str, tool_names: Collection[str] = ()) -> tuple[str, list[ToolCall]]:
    """Split model output into `(visible_text, tool_calls)`, calls in the order written.

    `tool_names` is informational: calls to other names are returned too (see module doc).
    """
    del tool_names  # deliberately not used to filter; kept for the signature callers rely on
    taken: list[tuple[int, int, list[ToolCall]]] = []
    for match in _TAGGED.finditer(text):  # Qwen's own format: no `arguments` needed (no-arg tools)
        calls = _calls_from_block(match.group(1), need_args=False, lenient=True)
        if calls:
            taken.append((match.start(), match.end(), calls))
    for match in _FENCED.finditer(text):
        if _overlaps(match.span(), taken):
            continue
        calls = _calls_from_block(match.group(1), need_args=True, lenient=False)
        if calls:
            taken.append((match.start(), match.end(), calls))
    decoder = _decoder()
    position = 0
    while (start := _BARE_START.search(text, position)) is not None:
        begin = start.start()
        if _overlaps((begin, begin + 1), taken):
            position = begin + 1
            continue
        try:
            value, stop = decoder.raw_decode(text, begin)
        except RecursionError:  # nested past what Python decodes: the rest stays visible text
            break
        except ValueError:
            position = begin + 1
            continue
        calls = _calls_in(value, need_args=True)
        if calls and not _overlaps((begin, stop), taken):
            taken.append((begin, stop, calls))
        position = stop  # a non-call JSON value is skipped whole: no calls picked out of its insides
    if not taken:
        return text.strip(), []
    taken.sort(key=lambda item: item[0])
    pieces, cursor, found = [], 0, []
    for begin, stop, calls in taken:
        pieces.append(text[cursor:begin])
        found.extend(calls)
        cursor = stop
    pieces.append(text[cursor:])
    visible = "\n".join(piece.strip() for piece in pieces if piece.strip())
    return visible, found
