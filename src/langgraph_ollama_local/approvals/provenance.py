"""Argument provenance: where each value of a gated call came from.

An approver sees `to: attacker@evil.example` and cannot tell whether the user typed it, a
fetched page suggested it, or the model made it up. The gate can: it has the whole
conversation. So every gated call carries, per argument value, its source:

- `user` — the value appears in what the user wrote;
- `tool_result` — it appears only in a tool result (a fetched page, a received email): the
  classic prompt-injection path;
- `model` — it appears nowhere in the conversation: the model invented or composed it.

A tool names its *key* arguments (`metadata["hitl_key_args"]`, e.g. every recipient of
`send_email`), or the policy does (`provenance:` section). When a key argument holds a
value the user never wrote, the policy's `on_ungrounded` decides: `refuse` (the default:
nobody is asked, the model is told the user did not ask for it), `flag` (the approver is
asked, with the flag shown), or `ignore`. Matching is deliberately literal (case and
whitespace folded, no fuzzy guessing): a key value either is in the user's words or it is
not, and a reader can check which.

Pure: no I/O, so the gate can call it before its interrupts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

KEY_ARGS_METADATA = "hitl_key_args"
Source = Literal["user", "tool_result", "model"]
OnUngrounded = Literal["refuse", "flag", "ignore"]
_SPLIT_ITEMS = re.compile(r"[,;\s]+")
_SPACE = re.compile(r"\s+")
_PREVIEW = 120


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text.casefold()).strip()


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _found(needle: str, haystack: str) -> bool:
    if not needle:
        return True
    if len(needle) <= 3 or needle.replace(".", "", 1).isdigit():  # short values and numbers: whole words
        return re.search(rf"(?<![\w.@-]){re.escape(needle)}(?![\w@-])", haystack) is not None
    return needle in haystack


@dataclass(frozen=True)
class ArgumentSource:
    """The source of one argument value (`path` like `to`, `cc[1]`, `meta.owner`)."""

    path: str
    source: Source
    key: bool
    unmatched: tuple[str, ...] = ()  # for key arguments: the items the user never wrote

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "source": self.source, "key": self.key}
        if self.unmatched:
            out["not_from_user"] = list(self.unmatched)
        return out


@dataclass(frozen=True)
class Provenance:
    """Where every argument of one call came from, and which key arguments are ungrounded."""

    arguments: tuple[ArgumentSource, ...]
    on_ungrounded: OnUngrounded

    @property
    def ungrounded(self) -> tuple[ArgumentSource, ...]:
        return tuple(a for a in self.arguments if a.key and a.unmatched)

    @property
    def refused(self) -> bool:
        return bool(self.ungrounded) and self.on_ungrounded == "refuse"

    @property
    def flagged(self) -> bool:
        return bool(self.ungrounded) and self.on_ungrounded == "flag"

    def payload(self) -> dict[str, Any]:
        """What approvers get under `hitl.provenance` (API, web card, terminal panel)."""
        return {
            "arguments": [a.as_dict() for a in self.arguments],
            "flags": [
                {
                    "path": a.path,
                    "values": list(a.unmatched),
                    "source": a.source,
                    "message": _flag_text(a),
                }
                for a in self.ungrounded
            ]
            if self.on_ungrounded != "ignore"
            else [],
            "on_ungrounded": self.on_ungrounded,
        }

    def refusal(self, tool: str) -> str:
        """What the model is told when the call was refused for ungrounded key arguments."""
        values = ", ".join(v for a in self.ungrounded for v in a.unmatched)
        fields = ", ".join(a.path for a in self.ungrounded)
        return (
            f"Not done, and nobody was asked: the user never wrote {values} ({fields}), so this "
            f"{tool} call was not put to an approver. Do not call {tool} unless the user asks "
            f"for it; if they did, ask them for the {fields} instead of guessing."
        )


def _flag_text(argument: ArgumentSource) -> str:
    values = ", ".join(argument.unmatched)
    if argument.source == "tool_result":
        return f"{argument.path}: {values} came from a tool result, not from the user"
    return f"{argument.path}: {values} appears nowhere in the conversation (written by the model)"


def _texts(history: Sequence[BaseMessage]) -> tuple[str, str]:
    user = " \n ".join(_fold(m.text) for m in history if isinstance(m, HumanMessage))
    tools = " \n ".join(_fold(m.text) for m in history if isinstance(m, ToolMessage))
    return user, tools


def trace_arguments(
    args: Mapping[str, Any],
    history: Sequence[BaseMessage],
    *,
    key_args: Sequence[str] = (),
    on_ungrounded: OnUngrounded = "refuse",
) -> Provenance:
    """Classify every leaf value of `args` against the conversation so far.

    A key argument is matched item by item (`"a@x.com, b@y.com"` is two recipients, each
    of which must be the user's); any other value as a whole.
    """
    user, tools = _texts(history)
    keys = set(key_args)
    out: list[ArgumentSource] = []
    for path, value in _leaves(args, ""):
        if value is None or isinstance(value, bool):
            continue
        root = re.split(r"[.\[]", path, maxsplit=1)[0]
        is_key = root in keys
        text = str(value)
        items = [i for i in _SPLIT_ITEMS.split(text) if i] if is_key else [text]
        from_user = [i for i in items if _found(_fold(i), user)]
        missing = tuple(i for i in items if i not in from_user)
        if not missing:
            source: Source = "user"
        elif all(_found(_fold(i), tools) for i in missing):
            source = "tool_result"
        else:
            source = "model"
        out.append(ArgumentSource(path=path, source=source, key=is_key, unmatched=missing if is_key else ()))
    return Provenance(arguments=tuple(out), on_ungrounded=on_ungrounded)
