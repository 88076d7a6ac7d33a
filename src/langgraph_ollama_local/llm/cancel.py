"""Stopping an answer while the model writes it (Ctrl-C in `hitl chat`).

The caller opens a `cancel_scope()` around a graph run and sets its event to stop. Two
paths carry the stop to the model, since the node runs on a LangGraph worker thread the
caller cannot interrupt:

- the embedded llama.cpp model reads the scope (a context variable, which LangGraph and
  LangChain copy into the threads they run nodes on) and stops generating at the next
  token, streaming or not, then raises `GenerationCancelled`;
- any other streaming model (Ollama, OpenAI-compatible) is stopped by `CancelOnToken`, a
  callback that raises `GenerationCancelled` on the next token it is handed.

Either way the node fails with `GenerationCancelled`, the run ends, and nothing keeps
generating in the background.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

_scope: ContextVar[threading.Event | None] = ContextVar("hitl_generation_cancel", default=None)


class GenerationCancelled(Exception):
    """The person stopped the answer; the run ends here, on purpose."""


@contextmanager
def cancel_scope() -> Iterator[threading.Event]:
    """An event that, once set, stops every generation started inside this scope."""
    event = threading.Event()
    token = _scope.set(event)
    try:
        yield event
    finally:
        _scope.reset(token)


def cancel_requested() -> bool:
    """True inside a scope whose event is set."""
    event = _scope.get()
    return event is not None and event.is_set()


def current_scope() -> threading.Event | None:
    return _scope.get()


class CancelOnToken(BaseCallbackHandler):
    """Raises `GenerationCancelled` in the model's own thread on the next streamed token."""

    raise_error = True  # LangChain swallows callback errors unless told otherwise

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        if self.event.is_set():
            raise GenerationCancelled("the answer was stopped")
