"""Denied requests, audited without letting a flood write the log.

The first denial of a (client, actor, rule) in a window is an `auth.denied` entry as
before, and so is each one with a credential not yet seen in that window, up to
`DISTINCT_PER_WINDOW` (a revoked token being tried stays visible); the rest are only
counted, and one `auth.denied` entry with `"repeated": n` is written when the window closes.
300 anonymous 401s are 2 rows, not 300 (each taking the audit chain's write lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str, str]  # client, actor, rule
DISTINCT_PER_WINDOW = 10
Write = Callable[[dict[str, Any]], Awaitable[object]]


@dataclass
class _Window:
    started: float
    first: dict[str, Any]
    repeated: int = 0
    routes: set[str] = field(default_factory=set)
    credentials: set[str] = field(default_factory=set)


class DenialAggregator:
    def __init__(
        self, write: Write, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.write = write
        self.window = window_seconds
        self.clock = clock
        self._open: dict[Key, _Window] = {}
        self._lock = asyncio.Lock()

    async def deny(self, key: Key, entry: dict[str, Any]) -> None:
        """Audit this denial now if it is the first of its window, else count it."""
        now = self.clock()
        async with self._lock:
            window = self._open.get(key)
            credential = str((entry.get("data") or {}).get("credential"))
            if window is not None and now - window.started < self.window:
                if credential in window.credentials or len(window.credentials) >= DISTINCT_PER_WINDOW:
                    window.repeated += 1
                    if len(window.routes) < 20:
                        window.routes.add(str(entry.get("subject_id")))
                    return
                window.credentials.add(credential)
            else:
                if window is not None:
                    await self._close(key, window)
                self._open[key] = _Window(now, entry, credentials={credential})
        await self.write(entry)

    async def flush(self, *, everything: bool = False) -> None:
        """Write the summary of every window that has closed (all of them at shutdown)."""
        now = self.clock()
        async with self._lock:
            for key, window in list(self._open.items()):
                if everything or now - window.started >= self.window:
                    await self._close(key, window)

    async def _close(self, key: Key, window: _Window) -> None:
        del self._open[key]
        if window.repeated:
            data = dict(window.first.get("data") or {})
            data.update(repeated=window.repeated, window_seconds=self.window, routes=sorted(window.routes))
            await self.write({**window.first, "data": data})

    async def run(self) -> None:
        """Flush closed windows in the background until cancelled (then flush the rest)."""
        try:
            while True:
                await asyncio.sleep(max(self.window / 4, 0.2))
                with contextlib.suppress(Exception):
                    await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush(everything=True))
