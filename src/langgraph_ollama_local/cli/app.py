"""The `hitl` command. Each command is a thin wrapper; the work lives in its own module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from langgraph_ollama_local.config import LocalAgentConfig

app = typer.Typer(
    help="Human-in-the-loop approvals for LangGraph agents on local LLMs.", no_args_is_help=True
)
console = Console()


def load_config(
    provider: str | None = None, db: str | None = None, policy: Path | None = None, model: str | None = None
) -> LocalAgentConfig:
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
    return config


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Errors a user can hit print one actionable line and exit 2, no traceback."""
    from pydantic import ValidationError

    from langgraph_ollama_local.approvals import ApprovalError
    from langgraph_ollama_local.llm.errors import ProviderError
    from langgraph_ollama_local.store import StorageConfigError, StorageUnavailableError

    try:
        yield
    except (
        ProviderError,
        ApprovalError,
        StorageConfigError,
        StorageUnavailableError,
        ValidationError,
    ) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def build_agent(config: LocalAgentConfig, checkpointer: Any) -> Any:
    from langgraph_ollama_local.agent import create_approval_agent, default_tools
    from langgraph_ollama_local.cli.defaults import default_policy
    from langgraph_ollama_local.llm import create_chat_model, resolve_provider

    choice = resolve_provider(config)
    console.print(f"[dim]model: {choice.name} — {choice.reason}[/dim]")
    model = create_chat_model(config, choice)
    return create_approval_agent(
        model, default_tools(config), policy=default_policy(config), checkpointer=checkpointer
    )


@app.command()
def chat(
    thread: Annotated[str | None, typer.Option(help="Thread id; reuse one to continue it.")] = None,
    provider: Annotated[str | None, typer.Option(help="auto | ollama | embedded | openai")] = None,
    db: Annotated[str | None, typer.Option(help="Storage URL (sqlite:///…, postgresql://…, memory).")] = None,
    policy: Annotated[Path | None, typer.Option(help="Approval policy file (.yaml/.toml).")] = None,
    model: Annotated[str | None, typer.Option(help="Ollama model name.")] = None,
) -> None:
    """Chat with the agent; approve, edit, reject or answer its actions as it asks."""
    from langgraph_ollama_local.cli.chat import ChatSession, new_thread_id, run_chat
    from langgraph_ollama_local.store import open_checkpointer

    with friendly_errors():
        config = load_config(provider, db, policy, model)
        with open_checkpointer(config.resolved_storage_url) as saver:
            console.print(f"[dim]state: {config.resolved_storage_url}[/dim]")
            graph = build_agent(config, saver)
            run_chat(ChatSession(graph, console, console.input, thread or new_thread_id()))


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    provider: Annotated[str | None, typer.Option(help="auto | ollama | embedded | openai")] = None,
) -> None:
    """Check Python, the model provider, the embedded model, storage, email and policy."""
    from langgraph_ollama_local.cli.doctor import as_dicts, run_checks

    with friendly_errors():
        checks = run_checks(load_config(provider))
    if as_json:
        typer.echo(json.dumps(as_dicts(checks), indent=2))
    else:
        for check in checks:
            mark = (
                "[green]✓[/green]"
                if check.ok
                else ("[red]✗[/red]" if check.required else "[yellow]–[/yellow]")
            )
            console.print(f"{mark} {check.name:<11} {check.detail}", highlight=False)
            if not check.ok and check.fix:
                console.print(f"   [dim]fix:[/dim] {check.fix}", highlight=False)
    raise typer.Exit(0 if all(c.ok for c in checks if c.required) else 1)


@app.command()
def graph(
    out: Annotated[Path, typer.Option(help="Output path without suffix.")] = Path("hitl-graph"),
    png: Annotated[bool, typer.Option(help="Also render PNG with Graphviz when installed.")] = True,
) -> None:
    """Write the approval agent's graph as Mermaid (and PNG where it renders offline)."""
    from langgraph.checkpoint.memory import InMemorySaver

    from langgraph_ollama_local.agent import create_approval_agent, default_tools
    from langgraph_ollama_local.cli.defaults import default_policy
    from langgraph_ollama_local.cli.graph_picture import write_graph_picture
    from langgraph_ollama_local.testing import ScriptedChatModel

    config = LocalAgentConfig()
    # The picture depends on the graph's shape only, so no model needs to load for it.
    agent = create_approval_agent(
        ScriptedChatModel(),
        default_tools(config),
        policy=default_policy(config),
        checkpointer=InMemorySaver(),
    )
    files, note = write_graph_picture(agent, out, png=png)
    for path in files:
        console.print(f"wrote {path}")
    if note:
        console.print(f"[yellow]{note}[/yellow]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[str | None, typer.Option(help="Storage URL (sqlite:///…, postgresql://…).")] = None,
    graph: Annotated[
        str | None, typer.Option(help="Serve another graph: path/to/module.py:variable.")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="auto | ollama | embedded | openai")] = None,
    policy: Annotated[Path | None, typer.Option(help="Approval policy file (.yaml/.toml).")] = None,
) -> None:
    """Run the approval service: REST, WebSocket and SSE APIs over a durable inbox."""
    import uvicorn

    from langgraph_ollama_local.server.app import create_app
    from langgraph_ollama_local.server.graphs import GraphLoadError, builtin_agent, graph_from_spec

    with friendly_errors():
        config = load_config(provider, db, policy)
        try:
            factory = graph_from_spec(graph) if graph else builtin_agent(config)
        except GraphLoadError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        console.print(
            f"[dim]state: {config.resolved_storage_url}; graph: {graph or 'built-in approval agent'}[/dim]"
        )
        uvicorn.run(create_app(config, factory), host=host, port=port, log_level="info")


audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(db: Annotated[str | None, typer.Option(help="Storage URL.")] = None) -> None:
    """Walk the hash chain; exit 1 and name the rows when anything was edited or deleted."""
    import asyncio

    from langgraph_ollama_local.store.approval_store import ApprovalStore

    async def verify() -> Any:
        store = await ApprovalStore.open(load_config(db=db).resolved_storage_url)
        try:
            return await store.verify_audit()
        finally:
            await store.close()

    with friendly_errors():
        report = asyncio.run(verify())
    if report.ok:
        console.print(f"[green]✓[/green] audit log intact: {report.entries} entries, hash chain verified")
        return
    console.print(f"[red]✗ audit log tampered[/red] ({report.entries} entries):")
    for problem in report.problems:
        console.print(f"  - {problem}")
    raise typer.Exit(1)


def main() -> None:
    app()
