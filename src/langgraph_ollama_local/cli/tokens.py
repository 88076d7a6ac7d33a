"""`hitl tokens create|list|revoke`: API tokens for people and programs.

Works directly on the database (whoever can run this can read the database anyway), so
the first admin token can be made before any server runs. A token is shown once.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from langgraph_ollama_local.cli.common import load_config, make_console, user_errors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from langgraph_ollama_local.store.tokens import TokenRecord, TokenStore

tokens_app = typer.Typer(help="Create, list, revoke API tokens; make login links.", no_args_is_help=True)
T = TypeVar("T")


def _cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def _with_store(db: str | None, work: Callable[[TokenStore], Awaitable[T]]) -> T:
    from langgraph_ollama_local.store.approval_store import ApprovalStore
    from langgraph_ollama_local.store.audit import audit_key_of
    from langgraph_ollama_local.store.tokens import TokenStore

    async def run() -> T:
        config = load_config(db=db)
        store = await ApprovalStore.open(config.resolved_storage_url, audit_key=audit_key_of(config))
        try:
            return await work(TokenStore(store.engine))
        finally:
            await store.close()

    return asyncio.run(run())


@tokens_app.command("create")
def create(
    user: Annotated[str, typer.Argument(help="Who the token acts as (recorded in the audit log).")],
    role: Annotated[
        list[str] | None, typer.Option("--role", "-r", help="A role; repeat for several.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    expires_days: Annotated[float | None, typer.Option(help="Expire after this many days.")] = None,
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the token.")] = False,
) -> None:
    """Issue a token for USER with the given roles. It is printed once; only its hash is kept."""
    roles = role or []

    async def work(tokens: TokenStore) -> tuple[TokenRecord, str]:
        expires = timedelta(days=expires_days) if expires_days else None
        return await tokens.create(
            user, roles, created_by=_cli_actor(), now=datetime.now(UTC), note=note, expires_in=expires
        )

    with user_errors():
        try:
            record, token = _with_store(db, work)
        except ValueError as exc:
            make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from exc
    if quiet:
        print(token)
        return
    console = make_console()
    console.print(
        f"token {record.id} for {record.user} (roles: {', '.join(record.roles) or 'none'})", highlight=False
    )
    console.print(token, markup=False, highlight=False, soft_wrap=True)
    console.print(
        "Shown once: store it now. Use it as 'Authorization: Bearer <token>', paste it into the "
        f"web inbox's sign-in form, or make a one-time login link: `hitl tokens link {record.id}`.",
        markup=False,
        highlight=False,
    )


@tokens_app.command("list")
def list_tokens(
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every token: id, user, roles, state. Secrets are never shown."""
    from rich.table import Table

    async def work(tokens: TokenStore) -> list[TokenRecord]:
        return await tokens.list()

    with user_errors():
        records = _with_store(db, work)
    now = datetime.now(UTC)
    if as_json:
        print(json.dumps([{**r.public(), "active": r.active(now)} for r in records], indent=2))
        return
    table = Table("id", "user", "roles", "created", "expires", "state", "last used")
    for r in records:
        state = "revoked" if r.revoked_at else "expired" if not r.active(now) else "active"
        table.add_row(
            r.id,
            r.user,
            ", ".join(r.roles),
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.expires_at:%Y-%m-%d}" if r.expires_at else "never",
            state,
            f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "-",
        )
    make_console().print(table)


@tokens_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `hitl tokens list`).")],
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
) -> None:
    """Revoke a token at once: requests and web sessions using it are refused from now on."""

    async def work(tokens: TokenStore) -> TokenRecord:
        return await tokens.revoke(token_id, revoked_by=_cli_actor(), now=datetime.now(UTC))

    with user_errors():
        try:
            record = _with_store(db, work)
        except LookupError as exc:
            make_console(stderr=True).print(f"error: {exc.args[0]}", markup=False, highlight=False)
            raise typer.Exit(1) from exc
    make_console().print(f"token {record.id} of {record.user} revoked", highlight=False)


def login_link(
    engine: AsyncEngine, token_id: str, *, base_url: str, minutes: float, created_by: str
) -> Awaitable[str]:
    """A `/login#code=…` link for this token: valid `minutes`, used once, never the token itself."""
    from langgraph_ollama_local.store.sessions import SessionStore

    async def make() -> str:
        code = await SessionStore(engine).new_login_code(
            token_id, created_by=created_by, now=datetime.now(UTC), ttl=timedelta(minutes=minutes)
        )
        return f"{base_url.rstrip('/')}/login#code={code}"

    return make()


@tokens_app.command("link")
def link(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `hitl tokens list`).")],
    minutes: Annotated[float, typer.Option(min=0.5, max=1440, help="How long the link stays valid.")] = 15,
    base_url: Annotated[str, typer.Option(help="Where the inbox is served.")] = "http://127.0.0.1:8000",
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
) -> None:
    """Print a one-time login link for the web inbox: it signs in once, within MINUTES, as the
    token's user, and carries a login code, never the token (browser history keeps links)."""

    async def work(tokens: TokenStore) -> str:
        record = await tokens.get(token_id)
        if not record.active(datetime.now(UTC)):
            raise LookupError(f"token {token_id} is revoked or expired: create a new one")
        return await login_link(
            tokens.engine, token_id, base_url=base_url, minutes=minutes, created_by=_cli_actor()
        )

    with user_errors():
        try:
            url = _with_store(db, work)
        except LookupError as exc:
            make_console(stderr=True).print(f"error: {exc.args[0]}", markup=False, highlight=False)
            raise typer.Exit(1) from exc
    print(url)
