"""`hitl tokens create|list|revoke`: API tokens for people and programs.

Works directly on the database (whoever can run this can read the database anyway), so
the first admin token can be made before any server runs. A token is shown once.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from langgraph_ollama_local.cli.common import UsageError, load_config, make_console, user_errors

if TYPE_CHECKING:
    from rich.table import Table
    from sqlalchemy.ext.asyncio import AsyncEngine

    from langgraph_ollama_local.store.tokens import TokenRecord, TokenStore

tokens_app = typer.Typer(help="Create, list, revoke API tokens; make login links.", no_args_is_help=True)
T = TypeVar("T")
ID_HELP = "The token's id, or enough of its start to name one token (see `hitl tokens list`)."


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
    if not roles:
        make_console(stderr=True).print(
            f"warning: token {record.id} has no role, so it can do nothing but read {record.user}'s own "
            "threads (no deciding, no inbox of others). To give it one, revoke it "
            f"(`hitl tokens revoke {record.id}`) and create it again with --role, "
            f"e.g. `hitl tokens create {record.user} --role approver`.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
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

    async def work(tokens: TokenStore) -> list[TokenRecord]:
        return await tokens.list()

    with user_errors():
        records = _with_store(db, work)
    now = datetime.now(UTC)
    if as_json:
        print(json.dumps([{**r.public(), "active": r.active(now)} for r in records], indent=2))
        return
    make_console().print(token_table(records, now))


def token_table(records: Sequence[TokenRecord], now: datetime) -> Table:
    """Fits 80 columns: the id is never cut (it is what `revoke` and `link` take); the user,
    roles and note wrap instead; times are dates (`--json` has them in full)."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("id", no_wrap=True, min_width=12)
    table.add_column("user", overflow="fold")
    table.add_column("roles", overflow="fold")
    table.add_column("state", max_width=16)
    table.add_column("used", no_wrap=True)
    table.add_column("note", overflow="fold", ratio=1, min_width=8)
    for r in records:
        table.add_row(
            r.id,
            r.user,
            ", ".join(r.roles) or "(none)",
            token_state(r, now),
            f"{r.last_used_at:%Y-%m-%d}" if r.last_used_at else "never",
            r.note or "",
        )
    return table


def token_state(record: TokenRecord, now: datetime) -> str:
    if record.revoked_at:
        return f"revoked {record.revoked_at:%Y-%m-%d}"
    if not record.active(now):
        return f"expired {record.expires_at:%Y-%m-%d}" if record.expires_at else "expired"
    return f"active until {record.expires_at:%Y-%m-%d}" if record.expires_at else "active"


@tokens_app.command("revoke")
def revoke(
    token_id: Annotated[
        str,
        typer.Argument(help="The token's id, or enough of its start to name one (see `hitl tokens list`)."),
    ],
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
) -> None:
    """Revoke a token at once: requests and web sessions using it are refused from now on."""

    async def work(tokens: TokenStore) -> TokenRecord:
        chosen = one_token(await tokens.list(), token_id)
        return await tokens.revoke(chosen.id, revoked_by=_cli_actor(), now=datetime.now(UTC))

    with user_errors():
        record = _with_store(db, work)
    make_console().print(f"token {record.id} of {record.user} revoked", highlight=False)


def one_token(records: Sequence[TokenRecord], prefix: str) -> TokenRecord:
    """The one token whose id is or starts with `prefix`; `UsageError` naming the candidates
    when there are several, or saying where to look when there is none."""
    wanted = prefix.strip()
    exact = [r for r in records if r.id == wanted]
    matches = exact or ([r for r in records if r.id.startswith(wanted)] if wanted else [])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no API token has an id starting with {wanted!r}; `hitl tokens list` shows them")
    named = ", ".join(f"{r.id} ({r.user})" for r in matches[:5]) + (", …" if len(matches) > 5 else "")
    raise UsageError(f"{len(matches)} tokens have ids starting with {wanted!r}: {named}; give more of the id")


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
    token_id: Annotated[str, typer.Argument(help=ID_HELP)],
    minutes: Annotated[float, typer.Option(min=0.5, max=1440, help="How long the link stays valid.")] = 15,
    base_url: Annotated[str, typer.Option(help="Where the inbox is served.")] = "http://127.0.0.1:8000",
    db: Annotated[str | None, typer.Option(help="Storage URL.")] = None,
) -> None:
    """Print a one-time login link for the web inbox: it signs in once, within MINUTES, as the
    token's user, and carries a login code, never the token (browser history keeps links)."""

    async def work(tokens: TokenStore) -> str:
        record = one_token(await tokens.list(), token_id)
        if not record.active(datetime.now(UTC)):
            raise LookupError(f"token {record.id} is revoked or expired: create a new one")
        return await login_link(
            tokens.engine, record.id, base_url=base_url, minutes=minutes, created_by=_cli_actor()
        )

    with user_errors():
        try:
            url = _with_store(db, work)
        except LookupError as exc:
            make_console(stderr=True).print(f"error: {exc.args[0]}", markup=False, highlight=False)
            raise typer.Exit(1) from exc
    print(url)
