"""`hitl serve`: the approval service (REST, WebSocket, SSE) over a durable inbox."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from langgraph_ollama_local.cli.common import load_config, make_console, user_errors
from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.store.checkpointer import storage_kind


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[str | None, typer.Option(help="Storage URL (sqlite:///…, postgresql://…).")] = None,
    graph: Annotated[str | None, typer.Option(help="Another graph: path/to/module.py:variable.")] = None,
    provider: Annotated[str | None, typer.Option(help="auto | ollama | embedded | openai")] = None,
    policy: Annotated[Path | None, typer.Option(help="Approval policy file (.yaml/.toml).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0, help="Runs worked on in this process at once; 0 = API only (PostgreSQL + `hitl worker`)."
        ),
    ] = 2,
    langgraph_config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="A LangGraph project's langgraph.json (graphs, env, dependencies as paths)."
        ),
    ] = None,
    graph_id: Annotated[
        str | None,
        typer.Option(help="The graph's assistant name for LangGraph's clients (default: agent)."),
    ] = None,
) -> None:
    """Run the approval service: REST, WebSocket and SSE APIs over a durable inbox."""
    import uvicorn

    from langgraph_ollama_local.runtime.service import Settings
    from langgraph_ollama_local.server.app import create_app
    from langgraph_ollama_local.server.graphs import (
        GraphLoadError,
        builtin_agent,
        graph_from_spec,
        langgraph_project,
    )

    with user_errors():
        try:
            if langgraph_config is not None:
                if graph:
                    raise GraphLoadError("give --graph or --config, not both")
                project = langgraph_project(langgraph_config)
                graph_id, graph = project.choose(graph_id)
                project.activate()  # before the settings are read: its env may set HITL_*
            config = load_config(provider=provider, db=db, policy=policy)
            factory = graph_from_spec(graph) if graph else builtin_agent(config)
        except GraphLoadError as exc:
            make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from exc
        console = make_console()
        console.print(
            f"state: {config.resolved_storage_url}; graph: {graph or 'built-in approval agent'} "
            f"(assistant {graph_id or 'agent'!r})",
            markup=False,
            highlight=False,
        )
        existing, first_token = asyncio.run(_bootstrap_auth(config, host))
        if not existing and not first_token and not config.auth.jwt_enabled:
            make_console(stderr=True).print(
                f"error: refusing to listen on {host}: no API token exists and no JWT issuer is "
                "configured, so nobody could be told apart. Create one first (`hitl tokens create "
                "admin --role admin --role approver`) or bind to 127.0.0.1.",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(2)
        if first_token:
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
            console.print(
                "No API token existed, so one was made for user 'admin' (roles admin, approver).\n"
                f"Open the web inbox: http://{shown}:{port}/login#token={first_token}\n"
                f"API clients send: Authorization: Bearer {first_token}\n"
                "It is shown once; more with `hitl tokens create NAME --role ROLE`.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if workers == 0 and storage_kind(config.resolved_storage_url) != "postgres":
            make_console(stderr=True).print(
                "error: --workers 0 leaves the runs to `hitl worker` processes, which need PostgreSQL "
                "(--db postgresql://…); with SQLite keep at least one worker here.",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(2)
        app = create_app(config, factory, settings=Settings(workers=workers), graph_id=graph_id or "agent")
        uvicorn.run(app, host=host, port=port, log_level="info")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _bootstrap_auth(config: LocalAgentConfig, host: str) -> tuple[int, str | None]:
    """(active tokens, a new first admin token or None). Only on loopback, only when none exist."""
    from langgraph_ollama_local.store.approval_store import ApprovalStore
    from langgraph_ollama_local.store.tokens import TokenStore

    store = await ApprovalStore.open(config.resolved_storage_url)
    try:
        tokens = TokenStore(store.engine)
        now = datetime.now(UTC)
        existing = await tokens.count_active(now)
        if existing or config.auth.jwt_enabled or not is_loopback(host):
            return existing, None
        _, token = await tokens.create(
            "admin",
            ["admin", "approver"],
            created_by="cli:hitl-serve",
            now=now,
            note="first admin (loopback)",
        )
        return existing, token
    finally:
        await store.close()
