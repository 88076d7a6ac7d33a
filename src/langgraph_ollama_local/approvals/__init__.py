"""The approval core: policy, decisions, interrupt payloads and the gate.

Pure: it depends on LangGraph's `interrupt()` and LangChain's message and tool types,
never on storage, HTTP or the CLI.
"""

from typing import TYPE_CHECKING

from langgraph_ollama_local._lazy import lazy_exports

if TYPE_CHECKING:
    from langgraph_ollama_local.approvals.decisions import (
        Decision,
        decision_response_schema,
        normalize_answer,
        parse_decision,
    )
    from langgraph_ollama_local.approvals.digest import call_digest
    from langgraph_ollama_local.approvals.errors import (
        ApprovalError,
        DecisionError,
        NotPausedError,
        PolicyError,
        UnknownInterruptError,
    )
    from langgraph_ollama_local.approvals.gate import ReviewOutcome, review_tool_calls
    from langgraph_ollama_local.approvals.policy import (
        AccessRules,
        ApprovalPolicy,
        Condition,
        Stage,
        ToolRule,
        Verdict,
    )
    from langgraph_ollama_local.approvals.questions import ask_human
    from langgraph_ollama_local.approvals.requests import (
        ActionView,
        InterruptView,
        approval_payload,
        batched_resume,
        read_interrupt,
    )

__all__ = [
    "AccessRules",
    "ActionView",
    "ApprovalError",
    "ApprovalPolicy",
    "Condition",
    "Decision",
    "DecisionError",
    "InterruptView",
    "NotPausedError",
    "PolicyError",
    "ReviewOutcome",
    "Stage",
    "ToolRule",
    "UnknownInterruptError",
    "Verdict",
    "approval_payload",
    "ask_human",
    "batched_resume",
    "call_digest",
    "decision_response_schema",
    "normalize_answer",
    "parse_decision",
    "read_interrupt",
    "review_tool_calls",
]

if not TYPE_CHECKING:  # checkers see the imports above; at run time each loads on first use
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "langgraph_ollama_local.approvals.decisions": (
                "Decision",
                "decision_response_schema",
                "normalize_answer",
                "parse_decision",
            ),
            "langgraph_ollama_local.approvals.digest": ("call_digest",),
            "langgraph_ollama_local.approvals.errors": (
                "ApprovalError",
                "DecisionError",
                "NotPausedError",
                "PolicyError",
                "UnknownInterruptError",
            ),
            "langgraph_ollama_local.approvals.gate": ("ReviewOutcome", "review_tool_calls"),
            "langgraph_ollama_local.approvals.policy": (
                "AccessRules",
                "ApprovalPolicy",
                "Condition",
                "Stage",
                "ToolRule",
                "Verdict",
            ),
            "langgraph_ollama_local.approvals.questions": ("ask_human",),
            "langgraph_ollama_local.approvals.requests": (
                "ActionView",
                "InterruptView",
                "approval_payload",
                "batched_resume",
                "read_interrupt",
            ),
        },
    )
