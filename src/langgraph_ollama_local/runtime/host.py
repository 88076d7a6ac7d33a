"""One place that assembles a running service: checkpointer, store, runtime, notifications.

`hitl serve` (inside the web app's lifespan) and `hitl worker` both host the same
runtime; only the number of worker tasks and the HTTP front differ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from langgraph.pregel import Pregel

from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.runtime.notify import NotificationDispatcher
from langgraph_ollama_local.runtime.service import ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore
from langgraph_ollama_local.store.audit import audit_key_of

GraphFactory = Callable[[Any], Pregel[Any, Any, Any, Any]]


@asynccontextmanager
async def hosted_runtime(
    config: LocalAgentConfig, factory: GraphFactory, settings: Settings, *, url: str | None = None
) -> AsyncIterator[ServiceRuntime]:
    """The started runtime for `factory`'s graph over `url`; everything stops on exit."""
    url = url or config.resolved_storage_url
    if settings.retention is None:  # the configured retention (HITL_RETENTION__*) unless given
        settings = replace(settings, retention=config.retention)
    async with open_async_checkpointer(url) as saver:
        store = await ApprovalStore.open(url, audit_key=audit_key_of(config))
        dispatcher = NotificationDispatcher(store, config)
        runtime = ServiceRuntime(
            factory(saver), store, notifier=dispatcher, settings=settings, broadcast_url=url
        )
        try:
            await runtime.start()
            await dispatcher.start()
            yield runtime
        finally:
            await dispatcher.stop()
            await runtime.stop()
            await store.close()
