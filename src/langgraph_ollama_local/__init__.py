"""langgraph-ollama-local: human-in-the-loop approvals for LangGraph agents on local LLMs.

from langgraph_ollama_local import LocalAgentConfig, create_approval_agent, ApprovalPolicy
"""

from typing import TYPE_CHECKING

from langgraph_ollama_local._lazy import lazy_exports

if TYPE_CHECKING:
    from langgraph_ollama_local.agent.graph import (
        CheckpointerRequiredError,
        build_selective_workflow,
        build_workflow,
        create_approval_agent,
    )
    from langgraph_ollama_local.approvals import (
        ApprovalPolicy,
        Condition,
        Decision,
        DecisionError,
        PolicyError,
        Stage,
        ToolRule,
        ask_human,
        read_interrupt,
    )
    from langgraph_ollama_local.config import LocalAgentConfig
    from langgraph_ollama_local.runtime import ApprovalRunner

__version__ = "0.1.0"

__all__ = [
    "ApprovalPolicy",
    "ApprovalRunner",
    "CheckpointerRequiredError",
    "Condition",
    "Decision",
    "DecisionError",
    "LocalAgentConfig",
    "PolicyError",
    "Stage",
    "ToolRule",
    "__version__",
    "ask_human",
    "build_selective_workflow",
    "build_workflow",
    "create_approval_agent",
    "read_interrupt",
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
            "langgraph_ollama_local.approvals": (
                "ApprovalPolicy",
                "Condition",
                "Decision",
                "DecisionError",
                "PolicyError",
                "Stage",
                "ToolRule",
                "ask_human",
                "read_interrupt",
            ),
            "langgraph_ollama_local.config": ("LocalAgentConfig",),
            "langgraph_ollama_local.runtime": ("ApprovalRunner",),
        },
    )
