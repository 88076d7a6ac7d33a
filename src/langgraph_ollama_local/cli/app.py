"""The `hitl` command line.

Each command lives in its own module and is registered here with one line, so adding
a command (`hitl serve`, `hitl audit`, …) touches this file once and nothing else.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from langgraph_ollama_local.cli.audit import audit_app
from langgraph_ollama_local.cli.chat import chat
from langgraph_ollama_local.cli.common import DEBUG_HELP, debugging, print_error, set_debug
from langgraph_ollama_local.cli.doctor import doctor
from langgraph_ollama_local.cli.graph_picture import graph
from langgraph_ollama_local.cli.policy import policy_app
from langgraph_ollama_local.cli.prune import prune
from langgraph_ollama_local.cli.runs import runs_app
from langgraph_ollama_local.cli.serve import serve
from langgraph_ollama_local.cli.tokens import tokens_app
from langgraph_ollama_local.cli.worker import worker

app = typer.Typer(
    help="Human-in-the-loop approvals for LangGraph agents on local LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a --debug traceback is for reading, not 500 lines of locals
)
PACKAGE = "langgraph-ollama-local"


def package_version() -> str:
    """The installed distribution's version (what `pip show` says), not a copy in the code."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hitl ({PACKAGE}) {package_version()}")
        raise typer.Exit


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Human-in-the-loop approvals for LangGraph agents on local LLMs."""
    set_debug(debug)  # every invocation starts from here, so a test runner's earlier --debug is reset


app.command("chat")(chat)
app.command("doctor")(doctor)
app.command("graph")(graph)
app.command("prune")(prune)
app.command("serve")(serve)
app.command("worker")(worker)
app.add_typer(audit_app, name="audit")
app.add_typer(tokens_app, name="tokens")
app.add_typer(runs_app, name="runs")
app.add_typer(policy_app, name="policy")


def main() -> None:
    """Entry point of the `hitl` console script.

    An error no command expected is a bug, but its traceback is no help to most people
    who see it: one line says what it was and how to get the traceback for a report.
    """
    try:
        app()
    except Exception as exc:
        if debugging():
            raise
        detail = " ".join(str(exc).split())
        print_error(
            f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} — this is a bug; "
            "run the same command with --debug for the traceback to report it"
        )
        sys.exit(1)
