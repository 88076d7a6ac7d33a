"""`hitl worker`: runs agents for the service, without HTTP, next to other processes.

Scale-out on PostgreSQL: any number of `hitl serve --workers 0` API processes and
`hitl worker` processes share one database. Workers take runs from the queue under a
lease, resume approved threads, sweep deadlines and send notifications; a worker killed
mid-run has its runs taken over when the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from langgraph_ollama_local.cli.common import DEBUG_HELP, load_config, make_console, set_debug, user_errors
from langgraph_ollama_local.store.checkpointer import storage_kind


def worker(
    db: Annotated[str | None, typer.Option(help="PostgreSQL URL shared with the API processes.")] = None,
    graph: Annotated[str | None, typer.Option(help="Another graph: path/to/module.py:variable.")] = None,
    provider: Annotated[str | None, typer.Option(help="auto | ollama | embedded | openai")] = None,
    policy: Annotated[Path | None, typer.Option(help="Approval policy file (.yaml/.toml).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Runs this process works on at once.")] = 2,
    lease_seconds: Annotated[
        float, typer.Option(min=1.0, help="How long a run stays ours without a renewal.")
    ] = 15.0,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Work on queued runs from the shared PostgreSQL database until stopped (Ctrl-C, SIGTERM)."""
    from langgraph_ollama_local.cli.serve import check_before_start
    from langgraph_ollama_local.runtime.host import hosted_runtime
    from langgraph_ollama_local.runtime.service import Settings
    from langgraph_ollama_local.server.app import access_rules_for
    from langgraph_ollama_local.server.graphs import GraphLoadError, builtin_agent, graph_from_spec

    if debug:
        set_debug(True)
    err = make_console(stderr=True)
    with user_errors():
        config = load_config(provider=provider, db=db, policy=policy)
        check_before_start(config, builtin=graph is None)
        url = config.resolved_storage_url
        if storage_kind(url) != "postgres":
            err.print(
                f"error: `hitl worker` shares work through PostgreSQL, and the storage is {url}. "
                "With SQLite, `hitl serve` runs the workers itself; for several processes set "
                "--db postgresql://… (or HITL_STORAGE_URL) for the server and every worker.",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(2)
        try:
            factory = graph_from_spec(graph) if graph else builtin_agent(config)
        except GraphLoadError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from exc
        settings = Settings(
            workers=concurrency,
            access=access_rules_for(config),
            lease_seconds=lease_seconds,
            single_process=False,
        )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            async with hosted_runtime(config, factory, settings, url=url) as runtime:
                make_console().print(
                    f"worker {runtime.worker_id}: {concurrency} at a time, lease {lease_seconds:g}s, "
                    f"on {config.resolved_storage_url}",
                    markup=False,
                    highlight=False,
                )
                await stop.wait()

        asyncio.run(main())
