"""`hitl serve`: the approval service (REST, WebSocket, SSE) over a durable inbox."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from langgraph_ollama_local.cli.common import (
    DEBUG_HELP,
    UsageError,
    load_config,
    make_console,
    set_debug,
    user_errors,
)
from langgraph_ollama_local.cli.listen import bind_listener
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
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
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

    if debug:
        set_debug(True)
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
        # Everything a user can get wrong is checked before anything is printed, created
        # or bound for good: a bad start leaves no token, no login link and no half-server.
        check_before_start(config, builtin=graph is None)
        if workers == 0 and storage_kind(config.resolved_storage_url) != "postgres":
            raise UsageError(
                "--workers 0 leaves the runs to `hitl worker` processes, which need PostgreSQL "
                "(--db postgresql://…); with SQLite keep at least one worker here."
            )
        listener = bind_listener(host, port)
        with listener:
            port = listener.getsockname()[1]  # --port 0: the one the system chose
            from langgraph_ollama_local.store.files import private_dir

            private_dir(config.home)  # tokens, keys, outbox and the default database live here
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
            boot = asyncio.run(_bootstrap_auth(config, host, f"http://{shown}:{port}"))
            if not boot.active and not boot.token_file and not config.auth.jwt_enabled:
                if not is_loopback(host):
                    raise UsageError(
                        f"refusing to listen on {host}: no API token is active and no JWT issuer is "
                        "configured, so nobody could be told apart. Create one first (`hitl tokens create "
                        "admin --role admin --role approver`) or bind to 127.0.0.1."
                    )
                make_console(stderr=True).print(
                    "warning: every API token is revoked or expired, and none is made again after the "
                    "first start: create one with `hitl tokens create NAME --role ROLE`.",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            console = make_console()
            console.print(
                f"state: {config.resolved_storage_url}; graph: {graph or 'built-in approval agent'} "
                f"(assistant {graph_id or 'agent'!r})",
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
            # uvicorn says where it listens only when it binds the socket itself.
            console.print(f"listening on http://{shown}:{port} (Ctrl-C stops)", markup=False, highlight=False)
            app = create_app(
                config, factory, settings=Settings(workers=workers), graph_id=graph_id or "agent"
            )
            server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
            with contextlib.suppress(KeyboardInterrupt):
                server.run(sockets=[listener])
            if not server.started:
                raise typer.Exit(3)  # uvicorn's own code for a failed startup; it logged why


def check_before_start(config: LocalAgentConfig, *, builtin: bool) -> None:
    """The storage URL parses and the policy file loads (and, for the built-in agent, names
    only its tools); raises the one-line errors `user_errors` prints. Opening the database
    comes next, in `_bootstrap_auth`."""
    from langgraph_ollama_local.agent import default_tools
    from langgraph_ollama_local.agent.defaults import default_policy
    from langgraph_ollama_local.store.checkpointer import describe_storage

    describe_storage(config.resolved_storage_url)
    policy = default_policy(config)
    if builtin:
        policy.check_tools([t.name for t in default_tools(config)])


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
