"""`hitl audit verify`: walk the audit log's hash chain and name what was tampered with."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from langgraph_ollama_local.cli.common import load_config, make_console, user_errors
from langgraph_ollama_local.store.audit import AuditReport

audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(db: Annotated[str | None, typer.Option(help="Storage URL.")] = None) -> None:
    """Walk the hash chain; exit 1 and name the rows when anything was edited or deleted."""
    from langgraph_ollama_local.store.approval_store import ApprovalStore

    async def run() -> AuditReport:
        store = await ApprovalStore.open(load_config(db=db).resolved_storage_url)
        try:
            return await store.verify_audit()
        finally:
            await store.close()

    with user_errors():
        report = asyncio.run(run())
    console = make_console()
    if report.ok:
        console.print(f"✓ audit log intact: {report.entries} entries, hash chain verified", highlight=False)
        return
    console.print(f"✗ audit log tampered ({report.entries} entries):", highlight=False)
    for problem in report.problems:
        console.print(f"  - {problem}", markup=False, highlight=False)
    raise typer.Exit(1)
