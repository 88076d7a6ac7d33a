"""Engines and migrations for the approval store: one URL, SQLite or PostgreSQL.

Users write the same URL they give the checkpointer (`sqlite:///…`, `postgresql://…`);
the driver parts (aiosqlite, psycopg) are filled in here. Migrations are Alembic's,
run programmatically at start-up so `hitl serve` needs no separate step.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from langgraph_ollama_local.store.checkpointer import StorageConfigError, sqlite_path
from langgraph_ollama_local.store.files import private_sqlite

MIGRATIONS = Path(__file__).with_name("migrations")


def sqlalchemy_urls(url: str) -> tuple[str, str]:
    """(async URL, sync URL) for a user-facing storage URL."""
    if url.startswith("sqlite://"):
        path = sqlite_path(url)
        private_sqlite(path)
        return f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}"
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            return f"postgresql+psycopg://{rest}", f"postgresql+psycopg://{rest}"
    raise StorageConfigError(
        f"the approval store needs sqlite:///… or postgresql://…, got {url!r} "
        "(an in-memory store would lose approvals on restart)"
    )


def alembic_config(sync_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    _, sync_url = sqlalchemy_urls(url)
    command.upgrade(alembic_config(sync_url), "head")


def create_engine_for(url: str) -> AsyncEngine:
    async_url, _ = sqlalchemy_urls(url)
    if async_url.startswith("sqlite"):
        # One writer at a time; wait for the lock instead of failing under load.
        return create_async_engine(async_url, connect_args={"timeout": 30})
    return create_async_engine(async_url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def sync_engine_for(url: str) -> Engine:
    _, sync_url = sqlalchemy_urls(url)
    return create_engine(sync_url)
