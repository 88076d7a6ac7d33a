"""Regenerate `images/`: the tutorial's graphs as Mermaid, and PNG where Graphviz is installed.

    python examples/make_graph_images.py

A test checks the committed `.mmd` files against `build_graphs()`, so a change to the
graph builders that changes a picture fails until this is rerun.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from langgraph_ollama_local import (
    ApprovalPolicy,
    LocalAgentConfig,
    build_selective_workflow,
    build_workflow,
    create_approval_agent,
)
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.agent.defaults import default_policy
from langgraph_ollama_local.cli.graph_picture import write_graph_picture
from langgraph_ollama_local.testing import ScriptedChatModel

IMAGES = Path(__file__).parent / "images"


def build_graphs() -> dict[str, Any]:
    """Picture name -> compiled graph. Only the shape matters, so no model is loaded."""
    model = ScriptedChatModel()
    config = LocalAgentConfig(policy_file=None)  # the default policy, whatever HITL_POLICY_FILE says
    tools = default_tools(config)
    return {
        # The tutorial's picture: pauses before the tools node (a static breakpoint).
        "04-human-in-loop-graph": build_workflow(model, tools, policy=ApprovalPolicy.allow_all()).compile(
            checkpointer=InMemorySaver(), interrupt_before=["tools"]
        ),
        # Our approval agent (what `hitl chat` runs): the gate inside `tools` raises interrupt().
        "04-approval-agent": create_approval_agent(
            model, tools, policy=default_policy(config), checkpointer=InMemorySaver()
        ),
        # Selective interrupts: only `sensitive_tools` pauses.
        "04-selective-graph": build_selective_workflow(model, tools, sensitive_tools={"send_email"}).compile(
            checkpointer=InMemorySaver(), interrupt_before=["sensitive_tools"]
        ),
    }


def main() -> None:
    for name, graph in build_graphs().items():
        for path in write_graph_picture(graph, IMAGES, name=name):
            print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
