"""Which graph the service runs: the built-in approval agent, or any compiled graph."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
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
    """`path/to/module.py:attr` (or `package.module:attr`, as langgraph.json allows) —
    compiled without a checkpointer, as langgraph.json graphs are."""
    path_text, _, attr = spec.partition(":")
    path = Path(path_text)
    if attr and not path_text.endswith(".py") and path_text.replace(".", "").replace("_", "").isalnum():
        try:
            module = importlib.import_module(path_text)
        except Exception as exc:
            raise GraphLoadError(f"importing {path_text} failed: {type(exc).__name__}: {exc}") from exc
        return _factory_of(spec, getattr(module, attr, None))
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
    return _factory_of(spec, getattr(module, attr, None))


def _factory_of(spec: str, graph: Any) -> GraphFactory:
    if not isinstance(graph, Pregel):
        raise GraphLoadError(
            f"{spec!r} is {type(graph).__name__}, not a compiled LangGraph graph (call .compile())"
        )

    def factory(checkpointer: Any) -> Pregel[Any, Any, Any, Any]:
        return graph.copy(update={"checkpointer": checkpointer})

    return factory


@dataclass(frozen=True)
class LangGraphProject:
    """What `hitl serve --config langgraph.json` takes from the LangGraph CLI's config."""

    path: Path
    graphs: dict[str, str]  # name -> spec, paths resolved against the config's folder
    env: dict[str, str] = field(default_factory=dict)
    dependencies: tuple[Path, ...] = ()

    def choose(self, name: str | None) -> tuple[str, str]:
        """(graph name, spec): the one graph, or the one `name` picks."""
        if name is None and len(self.graphs) == 1:
            return next(iter(self.graphs.items()))
        if name in self.graphs:
            return name, self.graphs[name]
        raise GraphLoadError(
            f"{self.path} has the graphs {sorted(self.graphs)}: pick one with --graph-id NAME "
            "(serving several graphs of one project in one process is not implemented yet)"
        )

    def activate(self) -> None:
        """Put the dependencies on sys.path and set `env` (variables already set win)."""
        for dependency in reversed(self.dependencies):
            if str(dependency) not in sys.path:
                sys.path.insert(0, str(dependency))
        for key, value in self.env.items():
            os.environ.setdefault(key, value)


def langgraph_project(path: Path) -> LangGraphProject:
    """Read a langgraph.json: `graphs`, `env` (a .env file or a mapping), `dependencies` (paths)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GraphLoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("graphs"), dict) or not data["graphs"]:
        raise GraphLoadError(f'{path} needs a \'graphs\' object, e.g. {{"agent": "./agent.py:graph"}}')
    base = path.resolve().parent
    graphs: dict[str, str] = {}
    for name, spec in data["graphs"].items():
        if isinstance(spec, dict):
            spec = spec.get("path")
        if not isinstance(spec, str) or ":" not in spec:
            raise GraphLoadError(f"{path}: graph {name!r} must be 'path/to/file.py:variable'")
        target, _, attr = spec.partition(":")
        graphs[str(name)] = f"{base / target}:{attr}" if target.endswith(".py") else spec
    env: dict[str, str] = {}
    raw_env = data.get("env")
    if isinstance(raw_env, str):
        from dotenv import dotenv_values

        env = {k: v for k, v in dotenv_values(base / raw_env).items() if v is not None}
    elif isinstance(raw_env, dict):
        env = {str(k): str(v) for k, v in raw_env.items()}
    dependencies = tuple(
        (base / d).resolve()
        for d in data.get("dependencies") or ()
        if isinstance(d, str) and d.startswith(".")
    )
    return LangGraphProject(path=path, graphs=graphs, env=env, dependencies=dependencies)
