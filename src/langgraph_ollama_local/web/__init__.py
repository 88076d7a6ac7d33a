"""The web approval inbox: static HTML/CSS/JS served by `hitl serve`, no build step.

`web_router()` serves `/` (the inbox), `/login` and `/static/*`; mount it with
`app.include_router(web_router())`. The page is a client of the public HTTP API (the same
routes as any other client), behind a session cookie; all model-written text is inserted
with `textContent`, never as HTML.
"""

from langgraph_ollama_local.web.routes import mount_web, web_router

__all__ = ["mount_web", "web_router"]
