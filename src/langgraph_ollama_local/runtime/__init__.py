"""Running approval-gated graphs: pending work, decisions by interrupt id, deadlines."""

from langgraph_ollama_local.runtime.local import (
    ApprovalRunner,
    ExpiryAction,
    PendingItem,
    timeout_decision,
)

__all__ = ["ApprovalRunner", "ExpiryAction", "PendingItem", "timeout_decision"]
