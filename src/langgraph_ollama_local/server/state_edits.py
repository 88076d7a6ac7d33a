"""State edits as the audit log records them: the full before/after of what changed.

Shared by every route that edits a thread's state (ours and LangGraph's `update_state`),
so an edit can never pass for history: the audit entry shows exactly what was written.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import BaseMessage, messages_to_dict

EDITED_BY = "hitl_edited_by"


def mark_edited(messages: list[BaseMessage], editor: str) -> None:
    """Marked for good: no view may present what an editor wrote as a tool's result."""
    for message in messages:
        message.additional_kwargs = {**message.additional_kwargs, EDITED_BY: editor}


def jsonable_state(values: Any) -> dict[str, Any]:
    data = dict(values or {})
    if "messages" in data:
        data["messages"] = messages_to_dict(data["messages"])
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


def state_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What a state edit changed, in full: messages by id (added, or before/after), other keys
    before/after. The audit entry carries it, so an edit cannot pass for history."""
    changes: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key == "messages" and isinstance(old or [], list) and isinstance(new, list):
            by_id = {m.get("data", {}).get("id"): m for m in old or []}
            added, changed = [], []
            for message in new:
                prior = by_id.get(message.get("data", {}).get("id"))
                if prior is None:
                    added.append(message)
                elif prior != message:
                    changed.append({"before": prior, "after": message})
            kept = {m.get("data", {}).get("id") for m in new}
            removed = [m for m in old or [] if m.get("data", {}).get("id") not in kept]
            changes[key] = {"added": added, "changed": changed, "removed": removed}
        else:
            changes[key] = {"before": old, "after": new}
    return changes


def printable(value: Any) -> Any:
    """Text safe to put in a JSON answer (unencodable code points escaped)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value
