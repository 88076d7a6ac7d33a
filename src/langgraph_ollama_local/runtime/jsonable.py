"""Graph values as JSON the way LangGraph's server API sends them.

Messages become their flat LangChain dicts (`{"type": "ai", "content": …, "tool_calls": …}`),
interrupts `{"id", "value"}`; anything unknown becomes its `str`, so a stream never fails
on a value it cannot encode. Used by the worker (stream chunks cross processes as JSON)
and by the HTTP adapters.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from langgraph.types import Interrupt
from pydantic import BaseModel

MAX_DEPTH = 64


def interrupt_json(interrupt: Interrupt) -> dict[str, Any]:
    out: dict[str, Any] = {"value": to_jsonable(interrupt.value), "id": interrupt.id}
    schema = getattr(interrupt, "response_schema", None)
    if isinstance(schema, Mapping):
        out["response_schema"] = to_jsonable(schema)
    return out


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-encodable copy of `value` (graph state, stream chunks, metadata)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth > MAX_DEPTH:
        return str(value)
    if isinstance(value, BaseMessage):
        return to_jsonable(value.model_dump(), depth + 1)
    if isinstance(value, Interrupt):
        return interrupt_json(value)
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="json"), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth + 1)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, depth + 1) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return str(value)
