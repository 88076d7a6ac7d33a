"""In-process event fan-out for live clients (SSE, WebSocket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any


class EventBus:
    """Every subscriber gets every event; a slow subscriber drops its oldest events."""

    def __init__(self, buffer: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._buffer = buffer

    def publish(self, event_type: str, **data: Any) -> dict[str, Any]:
        event = {"type": event_type, "at": datetime.now(UTC).isoformat(), **data}
        self.deliver(event)
        return event

    def deliver(self, event: dict[str, Any]) -> None:
        """Hand an already-built event (e.g. from another process) to every subscriber."""
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._buffer)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
