"""What the CLI builds when the user configured nothing beyond LocalAgentConfig."""

from __future__ import annotations

from langgraph_ollama_local.approvals import AccessRules, ApprovalPolicy, ToolRule
from langgraph_ollama_local.config import LocalAgentConfig


def default_policy(config: LocalAgentConfig) -> ApprovalPolicy:
    """The policy file if set; else the personal policy: `send_email` needs approval,
    `get_weather` runs freely, and the one local user may approve their own requests
    (a policy file turns separation of duties on: `access.self_approval` is false there
    unless it says otherwise)."""
    if config.policy_file:
        return ApprovalPolicy.from_file(config.policy_file)
    return ApprovalPolicy(
        default="require_approval",
        access=AccessRules(self_approval=True),
        tools={
            "get_weather": (ToolRule(action="allow"),),
            "send_email": (ToolRule(allowed_decisions=("approve", "edit", "reject", "respond")),),
        },
    )
