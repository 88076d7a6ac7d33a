"""While the database is away: 503 JSON with `Retry-After`, and `/readyz` for probes.

A storage or connection error (`store/faults.py`) anywhere in a request — including the
token lookup that authenticates it — becomes a 503 the client can act on, instead of a
plain-text 500: it says to retry and when, and on the decision routes whether the
decision was stored (`decision_stored`: true, false, or null when the connection dropped
around the commit — then `GET /approvals/{id}` tells). `/healthz` stays liveness (the
process answers); `/readyz` is readiness (the database answers).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from langgraph_ollama_local.store.faults import DatabaseUnavailableError, is_transient

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2
READY_TIMEOUT_SECONDS = 3.0
_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseUnavailableError,
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    psycopg.Error,
    PoolTimeout,
    sqlite3.Error,
    ConnectionError,
)


def mark_decision_stored(request: Request) -> None:
    """The decision of this request is committed: a later failure must not say otherwise."""
    request.state.decision_stored = True


def is_decision_route(request: Request) -> bool:
    """Routes that store a decision (checked by path: authentication fails before the route runs)."""
    path = request.url.path
    return request.method == "POST" and (path == "/approve" or path.endswith("/decision"))


def unavailable(request: Request, exc: Exception) -> JSONResponse:
    stored: bool | None = getattr(request.state, "decision_stored", False)
    if isinstance(exc, DatabaseUnavailableError) and not stored:
        stored = exc.decision_stored
    body: dict[str, Any] = {
        "detail": f"{_reason(exc)}; nothing is lost by retrying: try again in {RETRY_AFTER_SECONDS}s",
        "retry_after": RETRY_AFTER_SECONDS,
    }
    if is_decision_route(request):
        body["decision_stored"] = stored
        body["detail"] += {
            True: " (your decision was stored; the service resumes the thread when the database is back)",
            False: " (your decision was not stored: send it again)",
            None: " (whether your decision was stored is unknown: GET the approval, or send it again — a "
            "repeat of a stored decision gets 409)",
        }[stored]
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _reason(exc: Exception) -> str:
    if isinstance(exc, DatabaseUnavailableError):
        return str(exc)
    return f"the database is unavailable ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"


def install_outage_handling(app: FastAPI) -> None:
    """Register the 503 answers and the `/readyz` route on `app`."""

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DatabaseUnavailableError) or is_transient(exc):
            log.warning("%s %s: %s", request.method, request.url.path, _reason(exc))
            return unavailable(request, exc)
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, 500)

    for error in _DATABASE_ERRORS:
        app.add_exception_handler(error, database_error)

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: 200 when the database answers, else 503 with the reason (no credential needed)."""
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is None:
            return JSONResponse(
                {"status": "starting"}, 503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                async with runtime.store.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to answer is "not ready"
            return JSONResponse(
                {"status": "unavailable", "detail": _reason(exc)},
                503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return JSONResponse({"status": "ready"})
