"""`hitl graph`: an agent's graph as Mermaid, and as PNG where it renders offline.

LangChain's `draw_mermaid_png()` sends the diagram to a web service by default, which
fails (or leaks the graph) on a machine without network. Here the PNG comes from a local
Graphviz instead: the `dot` program when it is on PATH (fed DOT text built from the
graph's nodes and edges), else pygraphviz when it is importable; with neither, the PNG
is skipped with a note saying how to get it (`apt-get install graphviz`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol

import typer
from rich.text import Text

from langgraph_ollama_local.cli.common import make_console

if TYPE_CHECKING:
    from langchain_core.runnables.graph import Graph

PICTURE_SUFFIXES = (".mmd", ".png")
NO_GRAPHVIZ_NOTE = (
    "PNG skipped: Graphviz is not installed, so it cannot be rendered offline. Install it "
    "(`apt-get install graphviz`, `brew install graphviz`) and run again, or paste the .mmd "
    "file into any Mermaid viewer."
)
_INTERRUPT_KEY = "__interrupt"  # LangGraph marks interrupt_before/after nodes with this metadata
_TERMINALS = {"__start__": "START", "__end__": "END"}


class DrawableGraph(Protocol):
    """Anything with LangChain's `get_graph()`: a compiled LangGraph graph, a Runnable."""

    def get_graph(self) -> Graph: ...


class GraphPictureError(RuntimeError):
    """Graphviz was found but failed to render the picture."""


def _stderr(note: str) -> None:
    print(note, file=sys.stderr)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: DrawableGraph) -> str:
    """The graph as Graphviz DOT: conditional edges dashed, paused-at nodes outlined in red."""
    drawable = graph.get_graph()
    lines = [
        "digraph G {",
        '  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#f2f0ff", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for node_id, node in drawable.nodes.items():
        attrs = {"label": _TERMINALS.get(node_id, node.name)}
        if node_id in _TERMINALS:
            attrs.update(shape="oval", fillcolor="#bfb6fc" if node_id == "__end__" else "white")
        pause = (node.metadata or {}).get(_INTERRUPT_KEY)
        if pause:
            attrs.update(label=f"{node.name}\n(pauses {pause})", color="#c0392b", penwidth="2")
        lines.append(f"  {_quote(node_id)} [{', '.join(f'{k}={_quote(v)}' for k, v in attrs.items())}];")
    for edge in drawable.edges:
        attrs = {}
        if edge.conditional:
            attrs["style"] = "dashed"
        if edge.data is not None:
            attrs["label"] = str(edge.data)
        rendered = f" [{', '.join(f'{k}={_quote(v)}' for k, v in attrs.items())}]" if attrs else ""
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{rendered};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def picture_stem(out_dir_or_path: str | Path, name: str | None = None) -> Path:
    """Where the files go, without suffix.

    With `name`, `out_dir_or_path` is a directory (created if missing) and the files are
    `<name>.mmd`/`<name>.png` in it; so is an existing directory or a string ending in a
    path separator (files `graph.*`). Otherwise it is a file path: a `.mmd`/`.png` suffix
    is replaced, any other name (`graph`, `graph.v2`) gets the suffixes appended.
    """
    raw = str(out_dir_or_path)
    path = Path(out_dir_or_path)
    if name is not None or raw.endswith(("/", os.sep)) or path.is_dir():
        return path / (name or "graph")
    if path.suffix in PICTURE_SUFFIXES:
        return path.with_suffix("")
    return path


def render_png(graph: DrawableGraph, target: Path) -> str | None:
    """Render `target` offline; returns None when written, else why not (a user-facing note)."""
    dot = shutil.which("dot")
    if dot is not None:
        try:
            # Our own DOT text on stdin, the binary found on PATH, no shell.
            subprocess.run(  # noqa: S603
                [dot, "-Tpng", "-o", str(target)],
                input=to_dot(graph),
                text=True,
                capture_output=True,
                check=True,
                timeout=120,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            raise GraphPictureError(f"Graphviz `{dot}` could not render {target}: {detail}") from exc
        return None
    if importlib.util.find_spec("pygraphviz") is None:
        return NO_GRAPHVIZ_NOTE
    graph.get_graph().draw_png(str(target))
    return None


def write_graph_picture(
    graph: DrawableGraph,
    out_dir_or_path: str | Path,
    *,
    png: bool = True,
    name: str | None = None,
    notify: Callable[[str], None] = _stderr,
) -> list[Path]:
    """Write the graph as Mermaid (`.mmd`) and, with `png`, as PNG where that works offline.

    `out_dir_or_path` is a directory or a file path; see `picture_stem`. Returns the
    files written: the `.mmd` always, the `.png` only when a local Graphviz
    rendered it. When none is installed `notify` (stderr by default) gets a note saying
    how to install it; nothing here touches the network.
    """
    stem = picture_stem(out_dir_or_path, name)
    stem.parent.mkdir(parents=True, exist_ok=True)
    mermaid = stem.parent / f"{stem.name}.mmd"
    text = graph.get_graph().draw_mermaid()
    mermaid.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    written = [mermaid]
    if png:
        picture = stem.parent / f"{stem.name}.png"
        note = render_png(graph, picture)
        if note is None:
            written.append(picture)
        else:
            notify(note)
    return written


def graph(
    out: Annotated[
        str,
        typer.Option(help="A file path (`.mmd`/`.png` are written beside it) or a directory ending in `/`."),
    ] = "hitl-graph",
    png: Annotated[bool, typer.Option(help="Also render PNG with a local Graphviz when installed.")] = True,
) -> None:
    """Write the approval agent's graph as Mermaid (and PNG where it renders offline)."""
    from langgraph.checkpoint.memory import InMemorySaver

    from langgraph_ollama_local.agent import create_approval_agent, default_tools
    from langgraph_ollama_local.agent.defaults import default_policy
    from langgraph_ollama_local.config import LocalAgentConfig
    from langgraph_ollama_local.testing import ScriptedChatModel

    console = make_console()
    config = LocalAgentConfig()
    # The picture depends on the graph's shape only, so no model needs to load for it.
    agent = create_approval_agent(
        ScriptedChatModel(),
        default_tools(config),
        policy=default_policy(config),
        checkpointer=InMemorySaver(),
    )
    try:
        files = write_graph_picture(
            agent,
            out,
            png=png,
            name="hitl-graph" if out.endswith(("/", os.sep)) or Path(out).is_dir() else None,
            notify=lambda note: console.print(Text(note, style="yellow")),
        )
    except (GraphPictureError, OSError) as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(1) from exc
    for path in files:
        console.print(Text(f"wrote {path}"))
