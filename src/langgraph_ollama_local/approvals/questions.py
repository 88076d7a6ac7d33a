"""Asking the human for input mid-run (the tutorial's "Should I proceed?")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langgraph.types import interrupt


def question_payload(question: str, *, choices: Sequence[str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "question", "question": question}
    if choices:
        payload["choices"] = list(choices)
    return payload


def ask_human(question: str, *, choices: Sequence[str] | None = None) -> Any:
    """Pause the run with a question; returns what `Command(resume=...)` carries.

    With `choices`, LangGraph refuses any other answer before saving it, so the
    question can simply be asked again.
    """
    if not choices:
        return interrupt(question_payload(question))
    allowed: Any = Literal[tuple(choices)]
    return interrupt(question_payload(question, choices=choices), response_schema=allowed)
