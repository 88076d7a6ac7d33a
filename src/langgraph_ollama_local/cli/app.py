"""The `hitl` command line.

Each command lives in its own module and is registered here with one line, so adding
a command (`hitl serve`, `hitl audit`, …) touches this file once and nothing else.
"""

from __future__ import annotations

import typer

from langgraph_ollama_local.cli.audit import audit_app
from langgraph_ollama_local.cli.chat import chat
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
)

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
    """Entry point of the `hitl` console script."""
    app()
