"""LangGraph server routes hitl serve does not implement: 501 naming what is missing, never 404.

They still need a credential (like every route but /healthz), and they are in the OpenAPI
document as what they are (answers: 501, with the missing feature named): a client reading
the document sees every method a path has, and a method a path does not have at all is a
405 whose `Allow` lists the documented ones (server/allow.py), so "not implemented" and
"no such method" stay apart.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from langgraph_ollama_local.server.deps import User
from langgraph_ollama_local.server.langgraph_api.routes import not_implemented
from langgraph_ollama_local.server.schemas import Problem, ThreadId

TAG = "LangGraph server API: not implemented (501)"

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

PARAM = re.compile(r"\{(\w+)\}")


def missing_router() -> APIRouter:
    router = APIRouter(tags=[TAG])
    for method, path, what in MISSING:
        router.add_api_route(
            path,
            _answer(what, PARAM.findall(path)),
            methods=[method],
            name=f"missing {method} {path}",
            summary=f"Not implemented: {what}",
            description=f"LangGraph's server API has this route; hitl serve answers 501 naming {what}.",
            status_code=501,
            response_description=f"{what} is not implemented",
            responses={501: {"model": Problem}},
        )
    return router


def _answer(what: str, path_params: list[str]) -> Callable[..., Awaitable[None]]:
    """A handler whose signature declares the path's parameters, so the document describes
    them (a thread id with the same rule as on every other route)."""

    async def answer(**_: Any) -> None:
        raise not_implemented(what)

    params = [inspect.Parameter("_user", inspect.Parameter.KEYWORD_ONLY, annotation=User)]
    for name in path_params:
        kind: Any = ThreadId if name == "thread_id" else Annotated[str, PathParam(min_length=1)]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind))
    answer.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return answer
