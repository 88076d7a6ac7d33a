"""The approval-gated agent: state, nodes, graph builders and the tutorial's tools."""

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
