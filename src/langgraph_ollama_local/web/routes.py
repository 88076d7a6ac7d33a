"""`/` (the inbox, signed-in only), `/login`, and `/static/*`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from langgraph_ollama_local.server.security import AuthError, Security

STATIC = Path(__file__).with_name("static")
PAGE_HEADERS = {
    # Scripts only from our own origin: an injected <script> or inline handler cannot run.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def mount_web(app: FastAPI) -> None:
    """Add the page routes; the login page and static files are the only public parts."""

    @app.get("/", include_in_schema=False)
    async def inbox(request: Request) -> Response:
        security: Security = request.app.state.security
        try:
            await security.authenticate(request)
        except AuthError:
            return RedirectResponse("/login", status_code=303, headers={"Cache-Control": "no-store"})
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    @app.get("/login", include_in_schema=False)
    async def login() -> Response:
        return FileResponse(STATIC / "login.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
