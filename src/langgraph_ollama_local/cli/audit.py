"""`hitl audit verify|anchor`: check the keyed audit chain, and anchor it outside the database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from langgraph_ollama_local.cli.common import load_config, make_console, user_errors
from langgraph_ollama_local.store.audit import Anchor, AuditReport, anchors_file, audit_key_of

if TYPE_CHECKING:
    from langgraph_ollama_local.store.approval_store import ApprovalStore

audit_app = typer.Typer(help="Verify the audit log; anchor it outside the database.", no_args_is_help=True)


async def _open(db: str | None) -> tuple[ApprovalStore, Path]:
    from langgraph_ollama_local.store.approval_store import ApprovalStore

    config = load_config(db=db)
    store = await ApprovalStore.open(config.resolved_storage_url, audit_key=audit_key_of(config))
    return store, anchors_file(config)


@audit_app.command("verify")
def verify(
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(help="Anchors file (JSON lines); default $HITL_HOME/audit-anchors.jsonl if it exists."),
    ] = None,
) -> None:
    """Walk the keyed chain and compare it with the newest anchor; exit 1 and name the rows
    when anything was edited, deleted, forged or truncated."""

    async def run() -> AuditReport:
        store, default = await _open(db)
        try:
            return await store.verify_audit(anchor=Anchor.last_in(anchor or default))
        finally:
            await store.close()

    with user_errors():
        report = asyncio.run(run())
    console = make_console()
    for note in report.notes:
        console.print(f"  note: {note}", markup=False, highlight=False, soft_wrap=True)
    if report.ok:
        anchored = f", matches the anchor at entry {report.anchored_seq}" if report.anchored_seq else ""
        chain = "keyed hash chain" if report.keyed else "hash chain"
        console.print(
            f"✓ audit log intact: {report.entries} entries, {chain} verified{anchored}",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(f"✗ audit log tampered ({report.entries} entries):", highlight=False, soft_wrap=True)
    for problem in report.problems:
        console.print(f"  - {problem}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@audit_app.command("anchor")
def anchor(
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Append the anchor here; default $HITL_HOME/audit-anchors.jsonl.")
    ] = None,
    webhook: Annotated[str | None, typer.Option(help="Also POST the anchor (JSON) to this URL.")] = None,
) -> None:
    """Write a keyed {seq, hash} checkpoint of the newest entry outside the database. Keep
    anchors where a database writer cannot reach (another host, a webhook, write-once storage);
    `verify` then notices a truncated, wiped or rewritten log."""

    async def run() -> tuple[Anchor, Path]:
        store, default = await _open(db)
        try:
            return await store.audit_anchor(), file or default
        finally:
            await store.close()

    with user_errors():
        made, path = asyncio.run(run())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(made.to_json() + "\n")
        if webhook:
            import httpx

            try:
                httpx.post(
                    webhook, content=made.to_json(), headers={"Content-Type": "application/json"}, timeout=10
                )
            except httpx.HTTPError as exc:
                make_console(stderr=True).print(f"error: the webhook refused the anchor: {exc}", markup=False)
                raise typer.Exit(1) from exc
    make_console().print(f"anchored entry {made.seq} ({made.hash[:16]}…) in {path}", highlight=False)
