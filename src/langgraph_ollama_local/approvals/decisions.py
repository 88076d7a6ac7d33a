"""What a human may answer to an approval request, and how answers are checked.

Answers follow LangChain's HITL decisions (`approve`, `edit` with `edited_action`,
`reject` with an optional `message`, `respond` with a `message`) plus `escalate`, which
the deadline sweeper sends when a stage's policy says so. Friendly shapes are accepted
too — `{"type": "edit", "args": {...}}`, `{"type": "reject", "reason": ...}`, the
tutorial's `{"approved": true}`, a one-item `{"decisions": [...]}`, and the words
approve/reject — and normalized before checking.

The checker is handed to LangGraph as the interrupt's `response_schema`, so LangGraph
refuses a bad answer *before* anything is saved and the request can be answered again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, PlainValidator, ValidationError, WithJsonSchema

from langgraph_ollama_local.approvals.errors import DecisionError

DecisionKind = Literal["approve", "edit", "reject", "respond", "escalate"]
MAX_MESSAGE_CHARS = 10_000

_WORDS: dict[str, DecisionKind] = {
    "approve": "approve",
    "approved": "approve",
    "yes": "approve",
    "y": "approve",
    "reject": "reject",
    "rejected": "reject",
    "no": "reject",
    "n": "reject",
}


@dataclass(frozen=True)
class Decision:
    """One checked answer to one approval request."""

    type: DecisionKind
    args: dict[str, Any] | None = None
    message: str | None = None
    actor: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The LangChain-shaped dict, e.g. to send as a resume value."""
        out: dict[str, Any] = {"type": self.type}
        if self.type == "edit":
            out["edited_action"] = {"name": self.extra.get("name"), "args": self.args}
        if self.message is not None:
            out["message"] = self.message
        if self.actor is not None:
            out["actor"] = self.actor
        return out


def normalize_answer(raw: Any) -> dict[str, Any]:
    """Bring every accepted shape to `{"type": ..., ...}`; refuse anything else."""
    if isinstance(raw, Decision):
        return raw.to_payload()
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _WORDS:
            return {"type": _WORDS[word]}
        raise DecisionError(
            f"{raw!r} is not a decision: answer 'approve' or 'reject', or send "
            '{"type": "approve" | "edit" | "reject" | "respond", ...}'
        )
    if not isinstance(raw, Mapping):
        raise DecisionError(f"a decision must be an object, got {type(raw).__name__}")
    data = dict(raw)
    if "decisions" in data and "type" not in data:
        decisions = data["decisions"]
        if not isinstance(decisions, list) or len(decisions) != 1:
            count = len(decisions) if isinstance(decisions, list) else "no list of"
            raise DecisionError(
                f"this request gates exactly one tool call, but {count} decisions were sent; "
                "answer each pending request by its interrupt id"
            )
        return normalize_answer(decisions[0])
    if "type" not in data and "approved" in data:
        approved = data.pop("approved")
        if not isinstance(approved, bool):
            raise DecisionError(f"'approved' must be true or false, got {approved!r}")
        data["type"] = "approve" if approved else "reject"
    if "reason" in data and "message" not in data:
        data["message"] = data.pop("reason")
    if data.get("type") == "edit" and "edited_action" not in data and "args" in data:
        data["edited_action"] = {"args": data.pop("args")}
    return data


def parse_decision(
    raw: Any,
    *,
    allowed: Collection[str],
    tool_name: str,
    args_schema: type[BaseModel] | None = None,
    can_escalate: bool = False,
    forbidden_actors: Collection[str] = (),
) -> Decision:
    """Normalize and fully check an answer for one request; raise `DecisionError` if bad.

    `forbidden_actors` are people who already approved an earlier stage of the same
    call: multi-stage approval means distinct people.
    """
    data = normalize_answer(raw)
    kind = data.get("type")
    known = ("approve", "edit", "reject", "respond", "escalate")
    if kind not in known:
        raise DecisionError(f"unknown decision type {kind!r}; use one of {list(known)}")
    if kind == "escalate":
        if not can_escalate:
            raise DecisionError("this stage has no escalation path (its policy sets no escalate_to)")
    elif kind not in allowed:
        raise DecisionError(
            f"decision {kind!r} is not allowed for {tool_name!r} here; allowed: {sorted(allowed)}"
        )
    actor = data.get("actor")
    if actor is not None and not isinstance(actor, str):
        raise DecisionError("'actor' must be a string")
    if actor is not None and actor in forbidden_actors and kind in ("approve", "edit"):
        raise DecisionError(
            f"{actor!r} already approved an earlier stage of this call; another person must decide"
        )
    message = data.get("message")
    if message is not None:
        if not isinstance(message, str):
            raise DecisionError("'message' must be a string")
        if len(message) > MAX_MESSAGE_CHARS:
            raise DecisionError(f"'message' is longer than {MAX_MESSAGE_CHARS} characters")
    if kind == "respond" and not message:
        raise DecisionError("a 'respond' decision needs a non-empty 'message' (the tool result)")
    unexpected = set(data) - {"type", "message", "actor", "edited_action"}
    if unexpected:
        raise DecisionError(f"unexpected field(s) {sorted(unexpected)} in a {kind!r} decision")
    if kind != "edit":
        if "edited_action" in data:
            raise DecisionError("'edited_action' only goes with an 'edit' decision")
        return Decision(type=kind, message=message, actor=actor)
    return _parse_edit(data["edited_action"], tool_name, args_schema, message, actor)


def _parse_edit(
    action: Any, tool_name: str, args_schema: type[BaseModel] | None, message: str | None, actor: str | None
) -> Decision:
    if not isinstance(action, Mapping):
        raise DecisionError("'edited_action' must be an object with 'args'")
    name = action.get("name") or tool_name
    if name != tool_name:
        raise DecisionError(
            f"an edit cannot switch the tool from {tool_name!r} to {name!r}; reject this call instead"
        )
    args = action.get("args")
    if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
        raise DecisionError("edited 'args' must be an object with string keys")
    if args_schema is not None:
        unknown = sorted(set(args) - set(args_schema.model_fields))
        if unknown:
            # The tool would ignore them, but the stored call would show them as if they ran.
            raise DecisionError(f"edited args name unknown argument(s) {unknown} of {tool_name!r}")
        try:
            args_schema.model_validate(dict(args))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'args'}: {err['msg']}" for err in exc.errors()
            )
            raise DecisionError(f"edited args do not fit {tool_name!r}: {problems}") from exc
    return Decision(type="edit", args=dict(args), message=message, actor=actor, extra={"name": tool_name})


def decision_json_schema(
    allowed: Collection[str], tool_name: str, args_schema: type[BaseModel] | None, can_escalate: bool
) -> dict[str, Any]:
    """JSON Schema of the canonical answers, published to clients with the interrupt."""
    optional_text = {"type": "string", "maxLength": MAX_MESSAGE_CHARS}
    actor = {"type": "string", "description": "Set by the service from the authenticated identity."}
    variants: list[dict[str, Any]] = []
    for kind in [*dict.fromkeys(allowed), *(["escalate"] if can_escalate else [])]:
        props: dict[str, Any] = {"type": {"const": kind}, "actor": actor}
        required = ["type"]
        if kind == "edit":
            args = args_schema.model_json_schema() if args_schema else {"type": "object"}
            props["edited_action"] = {
                "type": "object",
                "properties": {"name": {"const": tool_name}, "args": args},
                "required": ["args"],
            }
            required.append("edited_action")
        if kind in ("reject", "respond", "escalate"):
            props["message"] = optional_text
        if kind == "respond":
            required.append("message")
        variants.append({"type": "object", "properties": props, "required": required})
    return {"title": f"Decision on {tool_name}", "oneOf": variants}


def decision_response_schema(
    allowed: Collection[str],
    tool_name: str,
    args_schema: type[BaseModel] | None = None,
    can_escalate: bool = False,
    forbidden_actors: Collection[str] = (),
) -> Any:
    """A type for `interrupt(..., response_schema=...)`: LangGraph validates with it."""

    def check(raw: Any) -> Decision:
        return parse_decision(
            raw,
            allowed=allowed,
            tool_name=tool_name,
            args_schema=args_schema,
            can_escalate=can_escalate,
            forbidden_actors=tuple(forbidden_actors),
        )

    schema = decision_json_schema(allowed, tool_name, args_schema, can_escalate)
    return Annotated[Decision, PlainValidator(check), WithJsonSchema(schema)]
