"""The approval-gated agent: state, nodes, graph builders and the tutorial's tools."""

from typing import TYPE_CHECKING

from langgraph_ollama_local._lazy import lazy_exports

if TYPE_CHECKING:
    from langgraph_ollama_local.agent.graph import (
        CheckpointerRequiredError,
        build_selective_workflow,
        build_workflow,
        create_approval_agent,
    )
    from langgraph_ollama_local.agent.state import AgentState
    from langgraph_ollama_local.agent.tools import default_tools, get_weather, make_send_email_tool

__all__ = [
    "AgentState",
    "CheckpointerRequiredError",
    "build_selective_workflow",
    "build_workflow",
    "create_approval_agent",
    "default_tools",
    "get_weather",
    "make_send_email_tool",
]

if not TYPE_CHECKING:  # checkers see the imports above; at run time each loads on first use
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "langgraph_ollama_local.agent.graph": (
                "CheckpointerRequiredError",
                "build_selective_workflow",
                "build_workflow",
                "create_approval_agent",
            ),
            "langgraph_ollama_local.agent.state": ("AgentState",),
            "langgraph_ollama_local.agent.tools": ("default_tools", "get_weather", "make_send_email_tool"),
        },
    )
