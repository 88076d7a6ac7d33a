"""`hitl runs retry RUN_ID`: queue a failed run again once its cause is fixed.

`hitl doctor` lists threads whose latest run failed on a graph error; they never move by
themselves. Retrying puts the same run back in the queue: the worker that takes it
continues from LangGraph's last checkpoint, and the execution ledger keeps approved calls
that already ran from running again.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from langgraph_ollama_local.cli.common import load_config, make_console, user_errors

runs_app = typer.Typer(help="Inspect and retry service runs.", no_args_is_help=True)


@runs_app.command("retry")
def retry(
    run_id: Annotated[str, typer.Argument(help="The failed run's id (from `hitl doctor`).")],
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
) -> None:
    """Put a failed run back in the queue; exit 1 if it is not failed."""
    from langgraph_ollama_local.store.approval_store import ApprovalStore
    from langgraph_ollama_local.store.run_queue import RunQueue

    async def run() -> tuple[bool, str]:
        store = await ApprovalStore.open(load_config(db=db).resolved_storage_url)
        try:
            if await RunQueue(store.engine).requeue_failed(run_id):
                return True, ""
            return False, (await store.get_run(run_id)).status
        finally:
            await store.close()

    from langgraph_ollama_local.store.approval_store import NotFoundError

    with user_errors():
        try:
            queued, status = asyncio.run(run())
        except NotFoundError as exc:
            make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(1) from exc
    if not queued:
        make_console(stderr=True).print(
            f"error: run {run_id} is {status}, not failed; only failed runs are retried",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)
    make_console().print(f"run {run_id} queued again; a worker continues it from its last checkpoint")
