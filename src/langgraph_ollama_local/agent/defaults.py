"""What the CLI builds when the user configured nothing beyond LocalAgentConfig."""

from __future__ import annotations

from langgraph_ollama_local.approvals import ApprovalPolicy, ToolRule
from langgraph_ollama_local.config import LocalAgentConfig


def default_policy(config: LocalAgentConfig) -> ApprovalPolicy:
    """The policy file if set; else `send_email` needs approval and `get_weather` runs freely."""
    if config.policy_file:
        return ApprovalPolicy.from_file(config.policy_file)
    return ApprovalPolicy(
        default="require_approval",
        tools={
            "get_weather": (ToolRule(action="allow"),),
            "send_email": (ToolRule(allowed_decisions=("approve", "edit", "reject", "respond")),),
        },
    )
