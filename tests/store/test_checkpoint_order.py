"""Checkpoint ids stay ordered when the worker that writes next has a slower clock."""

from __future__ import annotations

import time
import uuid

from langgraph.checkpoint.base import id as checkpoint_ids
from langgraph.checkpoint.base.id import uuid6

from langgraph_ollama_local.store.checkpointer import order_after


def test_ids_written_after_a_fast_clock_checkpoint_sort_after_it(monkeypatch):
    real = time.time_ns()
    monkeypatch.setattr(checkpoint_ids.time, "time_ns", lambda: real + 20_000_000_000)  # a worker 20 s ahead
    ahead = str(uuid6(clock_seq=1))
    monkeypatch.setattr(checkpoint_ids, "_last_v6_timestamp", None)  # another process, honest clock
    monkeypatch.setattr(checkpoint_ids.time, "time_ns", lambda: real + 1_000_000)
    assert str(uuid6(clock_seq=2)) < ahead  # what LangGraph alone would write: hidden behind it
    order_after(ahead)
    later = str(uuid6(clock_seq=2))
    assert later > ahead and uuid.UUID(later).version == 6
    order_after("not-a-uuid")  # ignored
    order_after(None)
    assert str(uuid6(clock_seq=3)) > later
