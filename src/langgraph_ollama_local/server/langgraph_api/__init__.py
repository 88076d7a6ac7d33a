"""LangGraph's own server API (what `langgraph-sdk`, agent-chat-ui and Agent Inbox speak),
mounted at the root of `hitl serve` beside our routes, over the same runtime."""

from langgraph_ollama_local.server.langgraph_api.missing import missing_router
from langgraph_ollama_local.server.langgraph_api.routes import langgraph_api_router

__all__ = ["langgraph_api_router", "missing_router"]
