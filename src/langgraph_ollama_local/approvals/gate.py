"""The approval gate: decide, for every tool call of a model turn, whether it may run.

`review_tool_calls` raises one LangGraph `interrupt()` per gated call and stage, and
returns an outcome per call. It never runs a tool: the caller executes the calls marked
`run` only after every review it made is done. That ordering matters because a resumed
node re-runs from its start; with no side effect before the last interrupt, re-running
is harmless.

A turn's calls are reviewed in one of two ways (`plan_turn` picks, before any call is
asked about or run):
- each on its own (`review_one_call`, the default when a turn has several calls and one
  needs a person): the executor gives every call its own LangGraph task, so all the
  turn's questions are pending at once and an approved call runs as soon as its own
  review is done. The whole-turn rules below are decided first, over the whole turn;
- together (`review_tool_calls`): one task asks about the calls one after another and
  none runs before all are decided — for a one-call turn, a turn a whole-turn rule
  refuses or ends, and a policy with `turn_calls: together`.

Fail-closed rules, each from a bug seen in peer projects:
- a call to a tool the agent does not have never runs, nor do calls of a turn that
  reuses or omits tool-call ids, or that asks for more calls than the policy allows;
- an edit is re-classified by the policy: a stricter rule restarts the review under it;
- decisions are checked (allowed type, edited args valid for the tool's schema, no
  approver deciding twice across stages) by LangGraph before they are saved;
- an exact call rejected `max_identical_retries` times is refused without asking again;
- a call whose arguments are not a plain JSON object (string keys, finite numbers, bounded
  depth), or that sets an argument the tool hides from the model (an injected argument),
  never runs;
- after `MAX_REFUSALS_PER_TURN` calls refused without a human in one turn, the turn ends:
  a model that keeps calling what it may not call cannot loop until the recursion limit;
- a call whose key arguments the user never wrote (see `provenance.py`) is refused without
  asking anyone, or raised with a flag, as the policy's `provenance` section says;
- an edit that changes the call is a new call: it goes back through every stage of its
  rule, first to last, and the editor cannot approve any of them (four eyes hold for the
  edited call too, not only for the one the earlier approvers saw);
- a call repeated after it already ran in the turn is not run again: the model gets the
  earlier result (small models repeat calls); a second repeat ends the turn with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.types import interrupt
from pydantic import BaseModel, ValidationError

from langgraph_ollama_local.approvals.decisions import Decision, decision_response_schema
from langgraph_ollama_local.approvals.digest import call_digest
from langgraph_ollama_local.approvals.policy import ApprovalPolicy, Verdict
from langgraph_ollama_local.approvals.provenance import KEY_ARGS_METADATA, Provenance, trace_arguments
from langgraph_ollama_local.approvals.requests import StageTicket, approval_payload
from langgraph_ollama_local.approvals.summary import SUMMARY_METADATA, summarize

OutcomeStatus = Literal["run", "rejected", "responded", "denied", "blocked", "ungrounded", "repeated"]
Ask = Callable[[dict[str, Any], Any], Decision]
MAX_REVIEWS_PER_CALL = 25
MAX_REFUSALS_PER_TURN = 5
MAX_ARGS_DEPTH = 32
HITL_METADATA_KEY = "hitl"
_AUTOMATIC_REFUSALS = ("blocked", "denied", "ungrounded")


@dataclass(frozen=True)
class ReviewOutcome:
    """What the gate concluded for one tool call."""

    tool_call: ToolCall
    status: OutcomeStatus
    message: str | None = None
    decisions: tuple[Mapping[str, Any], ...] = ()
    edited: bool = False
    ends_turn: bool = False
    rule: str | None = None
    ungrounded_args: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        name, args = self.tool_call.get("name"), self.tool_call.get("args")
        if isinstance(name, str) and isinstance(args, Mapping) and args_problem(args) is None:
            return call_digest(name, args)
        # Malformed calls still get a fingerprint, so refusing them can never crash.
        return call_digest(repr(name)[:200], {"unusable_args": repr(args)[:2000]})

    def metadata(self) -> dict[str, Any]:
        """Recorded on the ToolMessage so history shows how each call was decided."""
        return {
            "outcome": self.status,
            "digest": self.digest,
            "rule": self.rule,
            "decisions": [dict(d) for d in self.decisions],
            "edited": self.edited,
            "ungrounded_args": list(self.ungrounded_args),
        }


def _ask_langgraph(payload: dict[str, Any], schema: Any) -> Decision:
    decision: Decision = interrupt(payload, response_schema=schema)
    return decision


def args_schema_of(tool: BaseTool | None) -> type[BaseModel] | None:
    """The schema the model sees for the tool; edited args are checked against it."""
    if tool is None:
        return None
    schema = tool.tool_call_schema
    return schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None


def args_problem(args: Any, max_depth: int = MAX_ARGS_DEPTH) -> str | None:
    """Why `args` is not a plain JSON object a tool can be called with, or None.

    Iterative, so hostile nesting cannot raise `RecursionError` here.
    """
    if not isinstance(args, Mapping):
        return f"Tool arguments must be an object, got {type(args).__name__}."
    stack: list[tuple[Any, int]] = [(args, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return f"Tool arguments are nested more than {max_depth} levels deep."
        if isinstance(value, Mapping):
            if not all(isinstance(key, str) for key in value):
                return "Tool argument names must be strings."
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, float) and not math.isfinite(value):
            return "Tool arguments must not contain NaN or infinite numbers."
    return None


def _schema_problem(tool: BaseTool, args: Mapping[str, Any]) -> str | None:
    """Why `args` do not fit the tool's own schema (an approver is never shown such a call)."""
    schema = args_schema_of(tool)
    if schema is None:
        return None
    try:
        schema.model_validate(dict(args))
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in exc.errors()[:5]
        )
    return None


def injected_arg_names(tool: BaseTool) -> frozenset[str]:
    """Arguments the tool takes but hides from the model (`InjectedToolArg` and kin).

    A value for one can only come from the model, which must not choose them; the
    executor fills the one it knows, `idempotency_key`, itself.
    """
    visible = args_schema_of(tool)
    if visible is None:
        return frozenset()
    try:
        full = tool.get_input_schema()
    except Exception:  # a tool whose schema cannot be built: nothing known to be hidden
        return frozenset()
    fields = getattr(full, "model_fields", None)
    if not isinstance(fields, Mapping):
        return frozenset()
    return frozenset(set(fields) - set(visible.model_fields))


def prior_rejections(history: Sequence[BaseMessage], digest: str) -> int:
    """How often this exact call was already rejected in the conversation."""
    count = 0
    for message in history:
        if isinstance(message, ToolMessage):
            meta = message.response_metadata.get(HITL_METADATA_KEY)
            if (
                isinstance(meta, Mapping)
                and meta.get("digest") == digest
                and meta.get("outcome")
                in (
                    "rejected",
                    "denied",
                )
            ):
                count += 1
    return count


def _since_last_user_message(history: Sequence[BaseMessage]) -> Sequence[BaseMessage]:
    start = max((i for i, m in enumerate(history) if isinstance(m, HumanMessage)), default=-1)
    return history[start + 1 :]


def refusals_this_turn(history: Sequence[BaseMessage]) -> int:
    """How many calls were refused without a human (blocked, denied) since the user spoke."""
    count = 0
    for message in _since_last_user_message(history):
        if isinstance(message, ToolMessage):
            meta = message.response_metadata.get(HITL_METADATA_KEY)
            if isinstance(meta, Mapping) and meta.get("outcome") in _AUTOMATIC_REFUSALS:
                count += 1
    return count


def already_ran_this_turn(history: Sequence[BaseMessage]) -> dict[str, str]:
    """Digest -> result of the calls that ran since the user's last message.

    A model that repeats a call it already made (small models do, after a success) is
    not asked about again: the action is not run twice.
    """
    ran: dict[str, str] = {}
    for message in _since_last_user_message(history):
        if isinstance(message, ToolMessage):
            meta = message.response_metadata.get(HITL_METADATA_KEY)
            if isinstance(meta, Mapping) and meta.get("outcome") == "run" and message.status != "error":
                ran[str(meta.get("digest"))] = str(message.content)
    return ran


def repeats_this_turn(history: Sequence[BaseMessage]) -> int:
    """How many repeated calls the gate already answered with an earlier result this turn."""
    return sum(
        1
        for message in _since_last_user_message(history)
        if isinstance(message, ToolMessage)
        and isinstance(meta := message.response_metadata.get(HITL_METADATA_KEY), Mapping)
        and meta.get("outcome") == "repeated"
    )


@dataclass
class _Review:
    """The mutable state of one call's review; local to one gate execution."""

    call: ToolCall
    verdict: Verdict
    trail: list[dict[str, Any]] = field(default_factory=list)
    edited: bool = False
    provenance: dict[str, Any] | None = None
    # Who may not approve the call as it stands now: its editors, and anyone who already
    # approved a stage of this exact version of it.
    barred: set[str] = field(default_factory=set)


def review_tool_calls(
    calls: Sequence[ToolCall],
    policy: ApprovalPolicy,
    tools: Mapping[str, BaseTool],
    *,
    history: Sequence[BaseMessage] = (),
    ask: Ask = _ask_langgraph,
    turn_id: str | None = None,
) -> list[ReviewOutcome]:
    """Review every call of one model turn; see the module docstring for the rules."""
    refusal = _refuse_whole_turn(calls, policy)
    recordable = [_recordable(call, index) for index, call in enumerate(calls)]
    if refusal is not None:
        return [
            ReviewOutcome(tool_call=c, status="blocked", message=refusal, ends_turn=True) for c in recordable
        ]
    turn = _Turn(len(calls), already_ran_this_turn(history), repeats_this_turn(history), turn_id)
    outcomes = [
        _review_one(call, index, turn, policy, tools, history, ask) for index, call in enumerate(recordable)
    ]
    return _stop_refusal_loops(outcomes, history)


@dataclass(frozen=True)
class _Turn:
    """What every call's review needs to know about its turn."""

    count: int
    done: Mapping[str, str]
    repeated_before: int
    turn_id: str | None


class _NeedsPerson(Exception):
    """Raised by `plan_turn`'s stand-in for a person: this call waits for a decision."""


def _no_one_asked(payload: dict[str, Any], schema: Any) -> Decision:
    raise _NeedsPerson


@dataclass(frozen=True)
class TurnPlan:
    """How one model turn's calls are reviewed: `separately` (a task each) or together."""

    separately: bool
    reason: str


def plan_turn(
    calls: Sequence[ToolCall],
    policy: ApprovalPolicy,
    tools: Mapping[str, BaseTool],
    *,
    history: Sequence[BaseMessage] = (),
) -> TurnPlan:
    """Decide, before anyone is asked or anything runs, whether each call may be reviewed
    and run on its own.

    Pure and deterministic (the review before the first question needs no person), so
    the dispatching edge and every call's own task reach the same answer. The calls go
    together when the policy says so, when the turn has one call or none needs a person,
    and when a whole-turn rule applies (too many calls, missing or shared ids, a call
    that ends the turn, the refusal-loop limit): those rules see the whole turn, in the
    one task that answers every call of it.
    """
    if len(calls) < 2:
        return TurnPlan(False, "one call")
    if policy.turn_calls == "together":
        return TurnPlan(False, "the policy reviews a turn's calls together")
    if _refuse_whole_turn(calls, policy) is not None:
        return TurnPlan(False, "a whole-turn rule refuses the turn")
    recordable = [_recordable(call, index) for index, call in enumerate(calls)]
    turn = _Turn(len(calls), already_ran_this_turn(history), repeats_this_turn(history), None)
    outcomes: list[ReviewOutcome] = []
    waiting = 0
    for index, call in enumerate(recordable):
        try:
            outcomes.append(_review_one(call, index, turn, policy, tools, history, _no_one_asked))
        except _NeedsPerson:
            waiting += 1
            outcomes.append(ReviewOutcome(tool_call=call, status="run"))  # a stand-in: not refused
    if any(o.ends_turn for o in _stop_refusal_loops(outcomes, history)):
        return TurnPlan(False, "a call ends the turn")
    if not waiting:
        return TurnPlan(False, "no call needs a person")
    return TurnPlan(True, f"{waiting} call(s) need a person")


def review_one_call(
    calls: Sequence[ToolCall],
    index: int,
    policy: ApprovalPolicy,
    tools: Mapping[str, BaseTool],
    *,
    history: Sequence[BaseMessage] = (),
    ask: Ask = _ask_langgraph,
    turn_id: str | None = None,
) -> ReviewOutcome:
    """Review call `index` of a turn that `plan_turn` lets go separately.

    Its task re-checks the plan (fail closed: a turn that must go together, reaching
    here by any route, runs nothing), then reviews the call with the same rules as
    `review_tool_calls`. Its interrupts are its own, so its siblings' are pending
    beside them.
    """
    call = _recordable(calls[index], index)
    plan = plan_turn(calls, policy, tools, history=history)
    if not plan.separately:
        return ReviewOutcome(
            tool_call=call,
            status="blocked",
            message=f"This call's turn must be reviewed as a whole ({plan.reason}); it was not run.",
        )
    turn = _Turn(len(calls), already_ran_this_turn(history), repeats_this_turn(history), turn_id)
    return _review_one(call, index, turn, policy, tools, history, ask)


def _recordable(call: Mapping[str, Any], index: int) -> ToolCall:
    """The call with a string name and a usable id, so even its refusal can be recorded.

    Arguments are kept as they came (the gate refuses malformed ones), so nothing the
    model asked for is hidden; a missing id gets a stand-in (that turn is refused anyway).
    """
    name, call_id = call.get("name"), call.get("id")
    return ToolCall(
        name=name if isinstance(name, str) else "",
        args=call.get("args"),  # type: ignore[typeddict-item]  # checked by args_problem
        id=call_id if isinstance(call_id, str) and call_id else f"call_missing_id_{index}",
        type="tool_call",
    )


def _stop_refusal_loops(outcomes: list[ReviewOutcome], history: Sequence[BaseMessage]) -> list[ReviewOutcome]:
    """End the turn once too many calls were refused without a human in it."""
    refused = [i for i, o in enumerate(outcomes) if o.status in _AUTOMATIC_REFUSALS]
    total = refusals_this_turn(history) + len(refused)
    if not refused or total < MAX_REFUSALS_PER_TURN or any(o.ends_turn for o in outcomes):
        return outcomes
    last = refused[-1]
    note = (
        f"{total} tool calls were refused in this turn, so the turn ends here instead of "
        "letting the model try again."
    )
    outcomes[last] = replace(
        outcomes[last], ends_turn=True, message=f"{outcomes[last].message or ''} {note}".strip()
    )
    return outcomes


def _refuse_whole_turn(calls: Sequence[ToolCall], policy: ApprovalPolicy) -> str | None:
    if len(calls) > policy.max_calls_per_turn:
        return (
            f"The model asked for {len(calls)} tool calls in one turn; the policy allows at most "
            f"{policy.max_calls_per_turn}. None of them was run."
        )
    ids = [c.get("id") for c in calls]
    if any(not isinstance(i, str) or not i for i in ids):
        return "A tool call came without an id, so its result could not be matched. Nothing was run."
    if len(set(ids)) != len(ids):
        return "Several tool calls of this turn share one id. None of them was run."
    return None


def _review_one(
    call: ToolCall,
    index: int,
    turn: _Turn,
    policy: ApprovalPolicy,
    tools: Mapping[str, BaseTool],
    history: Sequence[BaseMessage],
    ask: Ask,
) -> ReviewOutcome:
    if (
        args_problem(call["args"]) is None
        and (digest := call_digest(call["name"], call["args"])) in turn.done
    ):
        # Silently: the model gets the earlier result as this call's result; a model
        # that repeats again has its turn ended with that result as the reply.
        return ReviewOutcome(
            tool_call=call, status="repeated", message=turn.done[digest], ends_turn=turn.repeated_before > 0
        )
    name = call["name"]
    if name not in tools:
        available = ", ".join(sorted(tools)) or "none"
        return ReviewOutcome(
            tool_call=call,
            status="blocked",
            message=f"Tool {name!r} does not exist, so it was not run. Available tools: {available}.",
        )
    problem = args_problem(call["args"])
    if problem is not None:
        return ReviewOutcome(
            tool_call=call, status="blocked", message=f"{problem} The {name} call was not run."
        )
    hidden = sorted(injected_arg_names(tools[name]) & set(call["args"]))
    if hidden:
        return ReviewOutcome(
            tool_call=call,
            status="blocked",
            message=f"The {name} call sets {hidden}, which only the system may set; it was not run.",
        )
    invalid = _schema_problem(tools[name], call["args"])
    if invalid is not None:
        return ReviewOutcome(
            tool_call=call,
            status="blocked",
            message=(
                f"The {name} call was not run: {invalid}. Call it again with valid arguments, "
                "or ask the user."
            ),
        )
    verdict = policy.classify(name, call["args"])
    if verdict.action == "allow":
        return ReviewOutcome(tool_call=call, status="run", rule=verdict.rule_id)
    if verdict.action == "deny":
        return _denied(call, verdict, ())
    provenance = _provenance(call, policy, tools[name], history)
    if provenance.refused:
        return ReviewOutcome(
            tool_call=call,
            status="ungrounded",
            rule=verdict.rule_id,
            message=provenance.refusal(name),
            ungrounded_args=tuple(a.path for a in provenance.ungrounded),
        )
    rejected_before = prior_rejections(history, call_digest(name, call["args"]))
    if policy.max_identical_retries and rejected_before >= policy.max_identical_retries:
        return ReviewOutcome(
            tool_call=call,
            status="blocked",
            rule=verdict.rule_id,
            ends_turn=True,
            message=(
                f"This exact {name} call was already rejected {rejected_before} time(s), so it was "
                "not run and nobody was asked again. Do not retry it; tell the user instead."
            ),
        )
    review = _Review(call=call, verdict=verdict, provenance=provenance.payload())
    return _run_stages(review, index, turn, policy, tools[name], ask)


def _provenance(
    call: ToolCall, policy: ApprovalPolicy, tool: BaseTool, history: Sequence[BaseMessage]
) -> Provenance:
    rule = policy.provenance_for(call["name"])
    key_args = (
        rule.key_args
        if rule.key_args is not None
        else tuple((tool.metadata or {}).get(KEY_ARGS_METADATA, ()))
    )
    return trace_arguments(call["args"], history, key_args=key_args, on_ungrounded=rule.on_ungrounded)


def _run_stages(
    review: _Review, index: int, turn: _Turn, policy: ApprovalPolicy, tool: BaseTool, ask: Ask
) -> ReviewOutcome:
    stage_index, escalation = 0, 0
    for _ in range(MAX_REVIEWS_PER_CALL):
        stages = review.verdict.stages
        if stage_index >= len(stages):
            return _finish(review, "run", None)
        stage = stages[stage_index]
        role = stage.escalate_to if escalation and stage.escalate_to else stage.role
        ticket = StageTicket(stage_index, len(stages), stage, role, escalation)
        payload = approval_payload(
            tool_call_id=str(review.call["id"]),
            name=review.call["name"],
            args=review.call["args"],
            verdict=review.verdict,
            ticket=ticket,
            call_index=index,
            call_count=turn.count,
            turn_id=turn.turn_id,
            prior=review.trail,
            provenance=review.provenance,
            barred=sorted(review.barred),
            summary=summarize(
                review.call["name"], review.call["args"], (tool.metadata or {}).get(SUMMARY_METADATA)
            ),
        )
        schema = decision_response_schema(
            review.verdict.allowed_decisions,
            review.call["name"],
            args_schema_of(tool),
            can_escalate=ticket.escalate_to is not None,
            forbidden_actors=set(review.barred),
        )
        decision = ask(payload, schema)
        review.trail.append(_trail_entry(ticket, decision))
        if decision.type == "approve":
            if decision.actor:
                review.barred.add(decision.actor)
            stage_index, escalation = stage_index + 1, 0
        elif decision.type == "escalate":
            escalation = 1
        elif decision.type == "reject":
            reason = decision.message or "no reason given"
            return _finish(
                review,
                "rejected",
                f"The user rejected the {review.call['name']} call: {reason}. "
                "It was not run. Do not retry it unless the user asks.",
            )
        elif decision.type == "respond":
            return _finish(review, "responded", decision.message)
        else:  # edit
            outcome = _apply_edit(review, decision, policy)
            if outcome is not None:
                return outcome
            stage_index, escalation = _next_stage_after_edit(review, stage_index, decision, policy), 0
    return _finish(review, "blocked", "The review of this call did not settle; it was not run.")


def _apply_edit(review: _Review, decision: Decision, policy: ApprovalPolicy) -> ReviewOutcome | None:
    assert decision.args is not None
    review.trail[-1]["changed"] = dict(decision.args) != dict(review.call["args"])
    review.call = ToolCall(
        name=review.call["name"], args=decision.args, id=review.call["id"], type="tool_call"
    )
    review.edited = True
    new_verdict = policy.classify(review.call["name"], review.call["args"])
    previous, review.verdict = review.verdict, new_verdict
    review.trail[-1]["previous_rule"] = previous.rule_id
    if new_verdict.action == "deny":
        return _denied(review.call, new_verdict, tuple(review.trail), edited=True)
    if new_verdict.action == "allow":
        return _finish(review, "run", None)
    return None


def _next_stage_after_edit(
    review: _Review, stage_index: int, decision: Decision, policy: ApprovalPolicy
) -> int:
    """Where the review goes on after an edit.

    An edit by a known person that changes the call, under a policy with separation of
    duties (`access.self_approval: false`), makes a new call nobody else has seen: every
    stage of its rule reviews it again from the first, and the editor may approve none of
    them (approvals of the old version no longer count, so their approvers may review the
    new one). Without that, the last approver of a two-stage call could rewrite it alone.
    Otherwise (no identities, as in a notebook, or the one-person policy): an edit under
    the same rule is this stage's approval, and one that moves the call under another rule
    starts that rule's review.
    """
    entry = review.trail[-1]
    if decision.actor and entry.get("changed") and not policy.access.self_approval:
        review.barred = {decision.actor}
        return 0
    if decision.actor:
        review.barred.add(decision.actor)
    return stage_index + 1 if entry.get("previous_rule") == review.verdict.rule_id else 0


def _trail_entry(ticket: StageTicket, decision: Decision) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "stage": ticket.stage.name,
        "role": ticket.role,
        "type": decision.type,
        "actor": decision.actor,
    }
    if decision.message is not None:
        entry["message"] = decision.message
    if decision.args is not None:
        entry["args"] = decision.args
    return entry


def _finish(review: _Review, status: OutcomeStatus, message: str | None) -> ReviewOutcome:
    return ReviewOutcome(
        tool_call=review.call,
        status=status,
        message=message,
        decisions=tuple(review.trail),
        edited=review.edited,
        rule=review.verdict.rule_id,
    )


def _denied(
    call: ToolCall, verdict: Verdict, trail: tuple[Mapping[str, Any], ...], *, edited: bool = False
) -> ReviewOutcome:
    reason = verdict.reason or "the approval policy does not allow it"
    return ReviewOutcome(
        tool_call=call,
        status="denied",
        message=f"The {call['name']} call was not run: {reason}.",
        decisions=trail,
        edited=edited,
        rule=verdict.rule_id,
    )
