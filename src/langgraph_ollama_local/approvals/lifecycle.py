"""The approval lifecycle as data: what an inbox item is and which states it moves through.

Pure: the store persists these, the runtime moves them, the server shows them.

    pending ──approve/edit/reject/respond──▶ decided (approved | edited | rejected | responded)
       │ ──deadline──▶ expired (rejected or approved by policy) | escalated (a new request follows)
       └ ──run cancelled / superseded──▶ cancelled
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RequestKind = Literal["tool_approval", "batched_action", "question", "breakpoint"]
RequestStatus = Literal[
    "pending", "approved", "edited", "rejected", "responded", "answered", "expired", "escalated", "cancelled"
]
DECIDED_BY_TYPE: dict[str, RequestStatus] = {
    "approve": "approved",
    "edit": "edited",
    "reject": "rejected",
    "respond": "responded",
    "answer": "answered",
    "continue": "approved",
}


@dataclass(frozen=True)
class ApprovalRequest:
    """One item of the inbox: an approval of one call at one stage, or a question."""

    id: str
    thread_id: str
    interrupt_id: str | None
    kind: RequestKind
    status: RequestStatus
    created_at: datetime
    tool: str | None = None
    tool_call_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None
    action_index: int = 0
    stage: str | None = None
    stage_index: int = 0
    stage_count: int = 1
    required_role: str | None = None
    allowed_decisions: tuple[str, ...] = ()
    description: str | None = None
    summary: str | None = None
    deadline: datetime | None = None
    on_timeout: str | None = None
    escalate_to: str | None = None
    requested_by: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision: dict[str, Any] | None = None
    edited_args: dict[str, Any] | None = None
    reason: str | None = None
    payload: Any = None
    response_schema: dict[str, Any] | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"
