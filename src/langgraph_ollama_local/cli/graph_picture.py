"""`hitl graph`: the agent's graph as Mermaid, and as PNG where Graphviz renders it offline.

LangChain's `draw_mermaid_png` calls a web service by default; this machine may have no
network, so the PNG comes from the local `dot` binary when installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from langgraph_ollama_local.cli.common import make_console


def to_dot(graph: Any) -> str:
    drawable = graph.get_graph()
    lines = ["digraph G {", '  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3ff"];']
    for node_id in drawable.nodes:
        label = {"__start__": "START", "__end__": "END"}.get(node_id, node_id)
        lines.append(f'  "{node_id}" [label="{label}"];')
    for edge in drawable.edges:
        style = ' [style="dashed"]' if edge.conditional else ""
        lines.append(f'  "{edge.source}" -> "{edge.target}"{style};')
    lines.append("}")
    return "\n".join(lines)


def write_graph_picture(graph: Any, out: Path, *, png: bool = True) -> tuple[list[Path], str | None]:
    """Write `out.mmd` (and `out.png` when possible). Returns the files and a note."""
    out.parent.mkdir(parents=True, exist_ok=True)
    mermaid = out.with_suffix(".mmd")
    mermaid.write_text(graph.get_graph().draw_mermaid())
    written = [mermaid]
    if not png:
        return written, None
    dot = shutil.which("dot")
    if dot is None:
        return written, "no PNG: Graphviz is not installed (apt-get install graphviz)"
    picture = out.with_suffix(".png")
    # `dot` is resolved from PATH and gets only our own DOT text on stdin.
    subprocess.run([dot, "-Tpng", "-o", str(picture)], input=to_dot(graph), text=True, check=True)  # noqa: S603
    written.append(picture)
    return written, None


def graph(
    out: Annotated[Path, typer.Option(help="Output path without suffix.")] = Path("hitl-graph"),
    png: Annotated[bool, typer.Option(help="Also render PNG with Graphviz when installed.")] = True,
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
    files, note = write_graph_picture(agent, out, png=png)
    for path in files:
        console.print(Text(f"wrote {path}"))
    if note:
        console.print(Text(note, style="yellow"))
