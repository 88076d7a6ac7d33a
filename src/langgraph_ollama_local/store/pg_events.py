"""PostgreSQL LISTEN/NOTIFY between processes: run wake-ups and live events.

`hitl serve` API processes and `hitl worker` processes share one database. A run queued
anywhere wakes idle workers (`hitl_runs`, sent by the run queue in the enqueue
transaction), and every event a process publishes (`approval.requested`,
`run.succeeded`, `message.delta`, …) reaches the SSE/WebSocket clients of every other
process (`hitl_events`). NOTIFY is delivered at commit and only to listening sessions, so
it is a wake-up, not a store: whatever matters is in the tables, and workers still poll
on a timer, so a lost notification only delays work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import psycopg

from langgraph_ollama_local.store.checkpointer import postgres_conninfo
from langgraph_ollama_local.store.run_queue import RUNS_CHANNEL

log = logging.getLogger(__name__)
EVENTS_CHANNEL = "hitl_events"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more


class PgNotifier:
    """Listens on both channels (reconnecting) and publishes events."""

    def __init__(
        self,
        url: str,
        *,
        origin: str,
        on_event: Callable[[dict[str, Any]], None],
        on_run: Callable[[str], None],
    ) -> None:
        self.conninfo = postgres_conninfo(url)
        self.origin = origin
        self.on_event, self.on_run = on_event, on_run
        self._task: asyncio.Task[None] | None = None
        self._sender: psycopg.AsyncConnection[Any] | None = None
        self._send_lock = asyncio.Lock()
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="hitl-pg-listen")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.listening.wait()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sender is not None:
            await self._sender.close()

    async def publish(self, event: dict[str, Any]) -> None:
        """Send `event` to the other processes (best effort: a failure is logged, not raised)."""
        payload = json.dumps({"origin": self.origin, "event": event}, default=str)
        if len(payload.encode()) > MAX_PAYLOAD:
            payload = json.dumps({"origin": self.origin, "event": _reference(event)}, default=str)
            if len(payload.encode()) > MAX_PAYLOAD:
                log.warning("event %s too large to broadcast; other processes miss it", event.get("type"))
                return
        try:
            async with self._send_lock:
                if self._sender is None or self._sender.closed:
                    self._sender = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                await self._sender.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, payload))
        except psycopg.Error as exc:
            log.warning("could not broadcast %s: %s", event.get("type"), exc)
            self._sender = None

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    await conn.execute(f"LISTEN {RUNS_CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    self.on_run("")  # catch up on anything queued while we were not listening
                    async for notice in conn.notifies():
                        self._dispatch(notice.channel, notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted or the network dropped
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _dispatch(self, channel: str, payload: str) -> None:
        if channel == RUNS_CHANNEL:
            self.on_run(payload)
            return
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if message.get("origin") != self.origin and isinstance(message.get("event"), dict):
            self.on_event(message["event"])


def _reference(event: dict[str, Any]) -> dict[str, Any]:
    """A too-large event as a pointer the receiver resolves from the store."""
    ref: dict[str, Any] = {k: v for k, v in event.items() if k not in ("approval", "content")}
    approval = event.get("approval")
    if isinstance(approval, dict):
        ref["approval_ref"] = approval.get("id")
    return ref
