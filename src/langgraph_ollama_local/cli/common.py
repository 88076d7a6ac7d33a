"""What every command shares: the console, the configuration, and errors as one line.

A user who mistypes a URL or has no Ollama running should read one sentence saying what
to do, not a traceback; `user_errors` turns the errors they can cause into that line
and exit code 2 (the code click uses for bad usage). `--debug` (`hitl --debug …`, or the
option of `serve`, `worker` and `doctor`) lets them through as tracebacks, for bug reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from langgraph_ollama_local.approvals.errors import ApprovalError, PolicyError
from langgraph_ollama_local.auth.jwt import JwtConfigError
from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.llm.errors import ProviderError
from langgraph_ollama_local.store.checkpointer import StorageConfigError, StorageUnavailableError

ProviderOption = Literal["auto", "ollama", "embedded", "openai"]
EXIT_USER_ERROR = 2
DEBUG_HELP = "Show Python tracebacks instead of one-line errors (for bug reports)."


class UsageError(Exception):
    """A mistake in how a command was called, said in one line with its fix (exit 2)."""


class _Debug:
    """Whether this invocation shows tracebacks; set by `--debug`, reset by every invocation."""

    on = False


def set_debug(on: bool) -> None:
    _Debug.on = on


def debugging() -> bool:
    return _Debug.on


USER_ERRORS: tuple[type[Exception], ...] = (
    JwtConfigError,
    ProviderError,
    ApprovalError,
    StorageConfigError,
    StorageUnavailableError,
    ValidationError,
    UsageError,
)


def make_console(*, stderr: bool = False) -> Console:
    """A console per invocation, so test runners that swap stdout capture it."""
    return Console(stderr=stderr, highlight=False, emoji=False)


def load_config(
    *,
    provider: str | None = None,
    db: str | None = None,
    policy: Path | None = None,
    model: str | None = None,
) -> LocalAgentConfig:
    """`LocalAgentConfig` from env and `.env`, with command-line options on top.

    `--model` names the model for whichever server runs it: the Ollama tag and the
    OpenAI-compatible model id, or a `.gguf` file for the embedded provider.
    """
    overrides: dict[str, Any] = {}
    if provider:
        overrides["provider"] = provider
    if db:
        overrides["storage_url"] = db
    if policy:
        overrides["policy_file"] = policy
    config = LocalAgentConfig(**overrides)
    if model:
        config.ollama.model = model
        config.openai.model = model
        if model.endswith(".gguf"):
            config.embedded.model_path = Path(model)
    return config


def one_line(exc: BaseException) -> str:
    """The error's own message on one line; pydantic's multi-line report condensed."""
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        return f"invalid setting: {'; '.join(parts)}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, PolicyError) and "policy" in text:
        text += " (`hitl policy check FILE` lists every problem; --policy or HITL_POLICY_FILE names the file)"
    return text


def print_error(message: str) -> None:
    """`error: …` on stderr, literally (no markup), wrapped by the terminal, not cut."""
    make_console(stderr=True).print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a user-caused error as one actionable line on stderr and exit 2."""
    try:
        yield
    except USER_ERRORS as exc:
        if debugging():
            raise
        print_error(one_line(exc))
        raise typer.Exit(EXIT_USER_ERROR) from None
