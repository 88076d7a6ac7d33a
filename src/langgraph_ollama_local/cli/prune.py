"""`hitl prune`: delete old checkpoints, keeping each thread's newest N; and doctor's row.

The service prunes in the background after each run (`HITL_RETENTION__*`); this command
does the same on demand — over every thread, or the ones named — for a database that was
served with retention off, or to keep fewer. `--dry-run` only reports. The latest
checkpoint of a thread is never deleted (it is the thread's state, and a pending approval
lives in it): see store/retention.py for what is kept and why.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from langgraph_ollama_local.cli.common import load_config, make_console, user_errors
from langgraph_ollama_local.cli.doctor import Check
from langgraph_ollama_local.config import LocalAgentConfig


def _mb(value: int | None) -> str:
    return "?" if value is None else f"{value / 1e6:,.1f} MB"


def prune(
    db: Annotated[str | None, typer.Option(help="Storage URL (default: HITL_STORAGE_URL).")] = None,
    thread: Annotated[
        list[str] | None, typer.Option("--thread", help="Only this thread (repeatable; default: all).")
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            min=1, help="Newest checkpoints kept per thread (default HITL_RETENTION__KEEP_CHECKPOINTS)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be freed.")] = False,
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="VACUUM after: SQLite gives the pages back (locks the file); PostgreSQL reuses them.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Delete all but each thread's newest checkpoints (time travel keeps that depth)."""
    from langgraph_ollama_local.store import open_checkpointer
    from langgraph_ollama_local.store.retention import checkpoint_usage, prune_threads, threads_to_prune
    from langgraph_ollama_local.store.retention import vacuum as retention_vacuum

    console = make_console()
    with user_errors():
        config = load_config(db=db)
        url = config.resolved_storage_url
        depth = keep or config.retention.keep_checkpoints
        with open_checkpointer(url) as saver:
            before = checkpoint_usage(saver, depth, thread or None)
            if before is None:
                console.print("in-memory storage: nothing to prune")
                return
            refused: list[str] = []
            pruned: list[str] = []
            if not dry_run:
                targets = thread or threads_to_prune(saver, depth)
                report = prune_threads(saver, targets, depth)
                pruned, refused = report.pruned, report.refused
                if vacuum:
                    retention_vacuum(saver)
            after = checkpoint_usage(saver, depth, thread or None) if not dry_run else before
    assert after is not None
    freed = before.prunable_bytes if dry_run else before.data_bytes - after.data_bytes
    deleted = before.prunable_checkpoints if dry_run else before.checkpoints - after.checkpoints
    result = {
        "dry_run": dry_run,
        "keep": depth,
        "threads": len(pruned) if not dry_run else before.threads,
        "checkpoints_deleted": deleted,
        "bytes_freed": freed,
        "refused_delta_channel": refused,
        "checkpoints_left": after.checkpoints - (deleted if dry_run else 0),
        "disk_bytes": after.disk_bytes,
        "free_bytes": after.free_bytes,
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{verb} {deleted:,} checkpoints ({_mb(freed)} of checkpoint data), keeping the newest "
        f"{depth} per thread; {result['checkpoints_left']:,} left",
        soft_wrap=True,
    )
    if refused:
        console.print(f"left alone (they use a DeltaChannel): {', '.join(refused)}", soft_wrap=True)
    if after.free_bytes is not None and not dry_run and not vacuum and after.free_bytes:
        console.print(
            f"the SQLite file keeps its size ({_mb(after.disk_bytes)}, {_mb(after.free_bytes)} free, "
            "reused by new checkpoints); `hitl prune --vacuum` gives it back to the OS",
            soft_wrap=True,
        )


def retention_check(config: LocalAgentConfig) -> Check:
    """Doctor's row: how much the checkpoints take, and what pruning would free."""
    from langgraph_ollama_local.store import open_checkpointer
    from langgraph_ollama_local.store.retention import checkpoint_usage

    keep = config.retention.keep_checkpoints
    try:
        with open_checkpointer(config.resolved_storage_url) as saver:
            usage = checkpoint_usage(saver, keep)
    except Exception as exc:  # doctor reports, it must not crash
        return Check("checkpoints", False, f"could not read the checkpoint tables: {exc}", required=False)
    if usage is None:
        return Check("checkpoints", True, "in memory: nothing kept on disk")
    mode = "on" if config.retention.enabled else "off (HITL_RETENTION__ENABLED=false)"
    disk = f", storage {_mb(usage.disk_bytes)}" if usage.disk_bytes is not None else ""
    free = f" ({_mb(usage.free_bytes)} free pages)" if usage.free_bytes else ""
    detail = (
        f"{usage.checkpoints:,} checkpoints in {usage.threads:,} threads, {_mb(usage.data_bytes)} of "
        f"checkpoint data{disk}{free}; keeping the newest {keep} per thread would free "
        f"{usage.prunable_checkpoints:,} checkpoints, {_mb(usage.prunable_bytes)} — background "
        f"pruning is {mode}"
    )
    return Check("checkpoints", True, detail, fix="hitl prune" if usage.prunable_checkpoints else "")
