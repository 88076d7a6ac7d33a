"""LangGraph server routes hitl serve does not implement: 501 naming what is missing, never 404.

They still need a credential (like every route but /healthz), and they stay out of the
OpenAPI document: they are not operations a client can use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from langgraph_ollama_local.server.deps import User
from langgraph_ollama_local.server.langgraph_api.routes import not_implemented

MISSING: list[tuple[str, str, str]] = [
    ("POST", "/assistants", "creating assistants (one assistant per served graph)"),
    ("PATCH", "/assistants/{assistant_id}", "updating assistants"),
    ("DELETE", "/assistants/{assistant_id}", "deleting assistants"),
    ("POST", "/assistants/count", "assistants.count"),
    ("POST", "/assistants/{assistant_id}/versions", "assistant versions"),
    ("POST", "/assistants/{assistant_id}/latest", "assistant versions"),
    ("GET", "/assistants/{assistant_id}/subgraphs", "subgraphs"),
    ("GET", "/assistants/{assistant_id}/subgraphs/{namespace}", "subgraphs"),
    ("PATCH", "/threads/{thread_id}", "threads.update"),
    ("DELETE", "/threads/{thread_id}", "threads.delete"),
    ("POST", "/threads/count", "threads.count"),
    ("POST", "/threads/prune", "threads.prune"),
    ("POST", "/threads/{thread_id}/copy", "threads.copy"),
    ("POST", "/threads/{thread_id}/state/checkpoint", "state at a checkpoint"),
    ("GET", "/threads/{thread_id}/state/{checkpoint_id}", "state at a checkpoint"),
    ("GET", "/threads/{thread_id}/history", "GET history (use POST /threads/{thread_id}/history)"),
    ("GET", "/threads/{thread_id}/stream", "threads.join_stream (thread-level streams)"),
    ("DELETE", "/threads/{thread_id}/runs/{run_id}", "runs.delete"),
    ("POST", "/runs", "stateless runs (create a thread first)"),
    ("POST", "/runs/stream", "stateless runs (create a thread first)"),
    ("POST", "/runs/wait", "stateless runs (create a thread first)"),
    ("POST", "/runs/batch", "runs.create_batch"),
    ("POST", "/runs/cancel", "runs.cancel_many"),
    ("POST", "/runs/crons", "crons"),
    ("POST", "/runs/crons/search", "crons"),
    ("POST", "/runs/crons/count", "crons"),
    ("PATCH", "/runs/crons/{cron_id}", "crons"),
    ("DELETE", "/runs/crons/{cron_id}", "crons"),
    ("POST", "/threads/{thread_id}/runs/crons", "crons"),
    ("PUT", "/store/items", "the long-term memory store"),
    ("GET", "/store/items", "the long-term memory store"),
    ("DELETE", "/store/items", "the long-term memory store"),
    ("POST", "/store/items/search", "the long-term memory store"),
    ("POST", "/store/namespaces", "the long-term memory store"),
    ("POST", "/mcp", "MCP"),
    ("POST", "/a2a/{assistant_id}", "A2A"),
]


def missing_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for method, path, what in MISSING:
        router.add_api_route(path, _answer(what), methods=[method], name=f"missing {method} {path}")
    return router


def _answer(what: str) -> Callable[..., Awaitable[None]]:
    async def answer(_user: User) -> None:
        raise not_implemented(what)

    return answer
