"""`hitl serve`: the approval service (REST, WebSocket, SSE) over a durable inbox."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
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
        from langgraph_ollama_local.store.files import private_dir

        private_dir(config.home)  # tokens, keys, outbox and the default database live here
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        boot = asyncio.run(_bootstrap_auth(config, host, f"http://{shown}:{port}"))
        if not boot.active and not boot.token_file and not config.auth.jwt_enabled:
            if not is_loopback(host):
                make_console(stderr=True).print(
                    f"error: refusing to listen on {host}: no API token is active and no JWT issuer is "
                    "configured, so nobody could be told apart. Create one first (`hitl tokens create "
                    "admin --role admin --role approver`) or bind to 127.0.0.1.",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(2)
            make_console(stderr=True).print(
                "warning: every API token is revoked or expired, and none is made again after the first "
                "start: create one with `hitl tokens create NAME --role ROLE`.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if boot.token_file:
            console.print(
                "No API token existed, so one was made for user 'admin' (roles admin, approver).\n"
                f"It is in {boot.token_file} (readable by you only); this is never done again.\n"
                f"Open the web inbox (one-time link, valid {config.auth.login_code_seconds // 60} min): "
                f"{boot.login_link}\n"
                "More tokens: `hitl tokens create NAME --role ROLE`; a new link: `hitl tokens link ID`.",
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


@dataclass(frozen=True)
class Bootstrap:
    active: int  # active tokens before this start
    token_file: Path | None = None  # the first admin token, when this start made it
    login_link: str | None = None


async def _bootstrap_auth(config: LocalAgentConfig, host: str, base_url: str) -> Bootstrap:
    """On the very first loopback start (no token was ever issued, no JWT issuer), make one
    admin token, write it to a 0600 file under HITL_HOME and make a one-time login link.
    Revoking every token later never mints a new one: `hitl tokens create` does that."""
    from langgraph_ollama_local.cli.tokens import login_link
    from langgraph_ollama_local.store.approval_store import ApprovalStore
    from langgraph_ollama_local.store.audit import audit_key_of
    from langgraph_ollama_local.store.files import private_dir, write_private
    from langgraph_ollama_local.store.tokens import TokenStore

    store = await ApprovalStore.open(config.resolved_storage_url, audit_key=audit_key_of(config))
    try:
        tokens = TokenStore(store.engine)
        now = datetime.now(UTC)
        active = await tokens.count_active(now)
        if active or await tokens.count_all() or config.auth.jwt_enabled or not is_loopback(host):
            return Bootstrap(active)
        record, token = await tokens.create(
            "admin",
            ["admin", "approver"],
            created_by="cli:hitl-serve",
            now=now,
            note="first admin (loopback)",
        )
        path = config.home / "admin-token"
        private_dir(config.home)
        write_private(path, token + "\n")
        link = await login_link(
            store.engine,
            record.id,
            base_url=base_url,
            minutes=config.auth.login_code_seconds / 60,
            created_by="cli:hitl-serve",
        )
        return Bootstrap(active, token_file=path, login_link=link)
    finally:
        await store.close()
