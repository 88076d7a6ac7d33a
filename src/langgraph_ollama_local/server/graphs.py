"""Which graph the service runs: the built-in approval agent, or any compiled graph."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.pregel import Pregel

from langgraph_ollama_local.config import LocalAgentConfig

GraphFactory = Callable[[Any], Pregel[Any, Any, Any, Any]]


class GraphLoadError(ValueError):
    """`--graph` does not name a compiled LangGraph graph."""


def builtin_agent(config: LocalAgentConfig) -> GraphFactory:
    def factory(checkpointer: Any) -> Pregel[Any, Any, Any, Any]:
        from langgraph_ollama_local.agent import create_approval_agent, default_tools
        from langgraph_ollama_local.agent.defaults import default_policy
        from langgraph_ollama_local.llm import create_chat_model

        return create_approval_agent(
            create_chat_model(config),
            default_tools(config),
            policy=default_policy(config),
            checkpointer=checkpointer,
            turns=config.turns,
        )

    return factory


def graph_from_spec(spec: str) -> GraphFactory:
    """`path/to/module.py:attr` — compiled without a checkpointer, as langgraph.json graphs are."""
    path_text, _, attr = spec.partition(":")
    path = Path(path_text)
    if not attr or not path.is_file():
        raise GraphLoadError(f"--graph {spec!r}: write path/to/module.py:variable (the file must exist)")
    module_spec = importlib.util.spec_from_file_location(f"hitl_user_graph_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise GraphLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise GraphLoadError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    graph = getattr(module, attr, None)
    if not isinstance(graph, Pregel):
        raise GraphLoadError(
            f"{spec!r} is {type(graph).__name__}, not a compiled LangGraph graph (call .compile())"
        )

    def factory(checkpointer: Any) -> Pregel[Any, Any, Any, Any]:
        return graph.copy(update={"checkpointer": checkpointer})

    return factory
