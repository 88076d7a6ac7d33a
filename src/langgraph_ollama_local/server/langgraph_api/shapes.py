"""The JSON shapes of LangGraph's server API (assistant, thread, thread state, run).

Where one of our own routes shares a path, its answer carries both sets of fields: our
messages keep `data` (LangChain's `messages_to_dict`) beside the flat fields LangGraph's
clients read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict
from langgraph.types import StateSnapshot

from langgraph_ollama_local.runtime.jsonable import interrupt_json, to_jsonable
from langgraph_ollama_local.store.approval_store import Run, ThreadRow

# LangGraph's server derives a graph's assistant id the same way (uuid5 of the graph id).
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")

RUN_STATUS = {
    "queued": "pending",
    "running": "running",
    "paused": "interrupted",
    "succeeded": "success",
    "failed": "error",
    "cancelled": "interrupted",
}


def assistant_id_of(graph_id: str) -> str:
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, graph_id))


def assistant_json(graph_id: str, created_at: datetime) -> dict[str, Any]:
    return {
        "assistant_id": assistant_id_of(graph_id),
        "graph_id": graph_id,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "name": graph_id,
        "description": None,
        "version": 1,
        "created_at": created_at.isoformat(),
        "updated_at": created_at.isoformat(),
    }


def values_json(values: Any) -> Any:
    """State values; each message has LangGraph's flat fields and our `data` (both clients)."""
    if not isinstance(values, Mapping):
        return to_jsonable(values)
    out = {}
    for key, value in values.items():
        if isinstance(value, list) and value and all(isinstance(m, BaseMessage) for m in value):
            out[str(key)] = [{**to_jsonable(m), **to_jsonable(message_to_dict(m))} for m in value]
        else:
            out[str(key)] = to_jsonable(value)
    return out


def checkpoint_json(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config.get("configurable") or {}
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": to_jsonable(conf.get("checkpoint_map")),
    }


def state_json(state: StateSnapshot) -> dict[str, Any]:
    """LangGraph's ThreadState."""
    return {
        "values": values_json(state.values),
        "next": list(state.next),
        "checkpoint": checkpoint_json(state.config),
        "metadata": to_jsonable(state.metadata or {}),
        "created_at": state.created_at,
        "parent_checkpoint": checkpoint_json(state.parent_config),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": to_jsonable(task.path),
                "error": repr(task.error) if task.error is not None else None,
                "interrupts": [interrupt_json(i) for i in task.interrupts],
                "checkpoint": None,
                "state": None,
                "result": to_jsonable(task.result) if task.result is not None else None,
            }
            for task in state.tasks
        ],
        "interrupts": [interrupt_json(i) for i in state.interrupts],
    }


def thread_json(row: ThreadRow, state: StateSnapshot | None) -> dict[str, Any]:
    """LangGraph's Thread: status from the latest run, values and interrupts from the checkpoint."""
    interrupts: dict[str, list[dict[str, Any]]] = {}
    if state is not None:
        for task in state.tasks:
            if task.interrupts:
                interrupts[task.id] = [interrupt_json(i) for i in task.interrupts]
    return {
        "thread_id": row.id,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "metadata": row.metadata,
        "status": row.status,
        "values": values_json(state.values) if state is not None and state.values else None,
        "interrupts": interrupts,
    }


def run_json(run: Run, default_assistant: str) -> dict[str, Any]:
    """LangGraph's Run, with our run's own fields beside it (`id`, `input`, `attempts`, …)."""
    spec = run.input if isinstance(run.input, Mapping) else {}
    ours = {
        "id": run.id,
        "input": run.input,
        "attempts": run.attempts,
        "error": run.error,
        "created_by": run.created_by,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    updated = run.finished_at or run.started_at or run.created_at
    return {
        **ours,
        "run_id": run.id,
        "thread_id": run.thread_id,
        "assistant_id": spec.get("assistant_id") or default_assistant,
        "created_at": run.created_at.isoformat(),
        "updated_at": updated.isoformat(),
        "status": RUN_STATUS.get(run.status, run.status),
        "metadata": spec.get("metadata") or {},
        "multitask_strategy": spec.get("multitask_strategy") or "reject",
        "kwargs": {k: spec[k] for k in ("interrupt_before", "interrupt_after", "stream_mode") if k in spec},
    }


def wait_json(state: StateSnapshot, run: Run) -> Any:
    """What `runs.wait` / `runs.join` answer: the state values, `__interrupt__` when paused."""
    if run.status == "failed":
        kind, _, message = (run.error or "Error: run failed").partition(": ")
        return {"__error__": {"error": kind, "message": message}}
    values = values_json(state.values)
    if isinstance(values, dict) and state.interrupts:
        values["__interrupt__"] = [interrupt_json(i) for i in state.interrupts]
    return values
