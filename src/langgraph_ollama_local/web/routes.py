"""`/` (the inbox, signed-in only), `/login`, and `/static/*`, as one `APIRouter`.

Mount it with `app.include_router(web_router())`. The inbox page asks `app.state.security`
(when the app has one) who is signed in and sends everyone else to `/login`; the login page
and the static files are public (they hold no data: the page fetches everything from the API).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from langgraph_ollama_local.server.security import AuthError

STATIC = Path(__file__).with_name("static")

# Scripts only from our own origin: an injected <script> or inline handler cannot run even if
# some model-written text ever reached the DOM as HTML (the page only ever uses textContent).
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


def static_file(name: str) -> Path | None:
    """The file `name` directly inside static/, or None: no sub-paths, no dot files, no traversal."""
    if (
        not name
        or "/" in name
        or "\\" in name
        or name.startswith(".")
        or Path(name).suffix not in MEDIA_TYPES
    ):
        return None
    path = STATIC / name
    return path if path.is_file() and path.resolve().parent == STATIC.resolve() else None


def web_router() -> APIRouter:
    """The inbox page, the login page and their static files."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def inbox(request: Request) -> Response:
        security = getattr(request.app.state, "security", None)
        if security is not None:
            try:
                await security.authenticate(request)
            except AuthError:
                return RedirectResponse("/login", status_code=303, headers={"Cache-Control": "no-store"})
        return FileResponse(STATIC / "index.html", media_type=MEDIA_TYPES[".html"], headers=PAGE_HEADERS)

    @router.get("/login")
    async def login() -> Response:
        return FileResponse(STATIC / "login.html", media_type=MEDIA_TYPES[".html"], headers=PAGE_HEADERS)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        path = static_file(name)
        if path is None:
            raise HTTPException(404, f"no static file {name!r}")
        headers = PAGE_HEADERS if path.suffix == ".html" else STATIC_HEADERS
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)

    return router


def mount_web(app: FastAPI) -> None:
    """`app.include_router(web_router())`, kept for callers that mount the page this way."""
    app.include_router(web_router())
