"""`hitl serve`: the approval service (REST, WebSocket, SSE) over a durable inbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from langgraph_ollama_local.cli.common import load_config, make_console, user_errors


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[str | None, typer.Option(help="Storage URL (sqlite:///…, postgresql://…).")] = None,
    graph: Annotated[str | None, typer.Option(help="Another graph: path/to/module.py:variable.")] = None,
    provider: Annotated[str | None, typer.Option(help="auto | ollama | embedded | openai")] = None,
    policy: Annotated[Path | None, typer.Option(help="Approval policy file (.yaml/.toml).")] = None,
) -> None:
    """Run the approval service: REST, WebSocket and SSE APIs over a durable inbox."""
    import uvicorn

    from langgraph_ollama_local.server.app import create_app
    from langgraph_ollama_local.server.graphs import GraphLoadError, builtin_agent, graph_from_spec

    with user_errors():
        config = load_config(provider=provider, db=db, policy=policy)
        try:
            factory = graph_from_spec(graph) if graph else builtin_agent(config)
        except GraphLoadError as exc:
            make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from exc
        make_console().print(
            f"state: {config.resolved_storage_url}; graph: {graph or 'built-in approval agent'}",
            markup=False,
            highlight=False,
        )
        uvicorn.run(create_app(config, factory), host=host, port=port, log_level="info")
