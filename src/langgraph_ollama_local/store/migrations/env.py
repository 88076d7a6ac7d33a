"""Alembic environment: migrations run on a plain sync connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from langgraph_ollama_local.store.schema import metadata

url = context.config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url must be set (see store/database.py)"
with create_engine(url).connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
