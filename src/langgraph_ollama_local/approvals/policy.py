"""The declarative approval policy: per tool, run freely, deny, or require approval.

A policy is data (YAML, TOML or Python) checked strictly at load time: unknown keys,
unknown operators and rules for tools the agent does not have are errors, so a typo can
never turn into a silent auto-approve. Classification is pure and fails closed: when a
condition cannot be evaluated, the strictest rule for that tool applies.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from langgraph_ollama_local.approvals.errors import PolicyError

RuleAction = Literal["allow", "deny", "require_approval"]
DecisionType = Literal["approve", "edit", "reject", "respond"]
TimeoutOutcome = Literal["reject", "escalate", "approve"]
ConditionOp = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in",
    "contains", "matches", "domain_in", "domain_not_in", "exists",
]  # fmt: skip

ALL_DECISIONS: tuple[DecisionType, ...] = ("approve", "edit", "reject", "respond")
_EMAIL_SPLIT = re.compile(r"[,;\s]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """A test on one argument of the call, e.g. `amount gt 1000`."""

    arg: str = Field(description="Argument name; dots reach into nested objects.")
    op: ConditionOp
    value: Any = None

    @model_validator(mode="after")
    def _check_value(self) -> Condition:
        if self.op in ("in", "not_in", "domain_in", "domain_not_in") and not isinstance(self.value, list):
            raise ValueError(f"condition op {self.op!r} needs a list value, got {self.value!r}")
        if self.op in ("gt", "gte", "lt", "lte") and not isinstance(self.value, int | float):
            raise ValueError(f"condition op {self.op!r} needs a number, got {self.value!r}")
        if self.op == "matches":
            try:
                re.compile(str(self.value))
            except re.error as exc:
                raise ValueError(f"bad regular expression {self.value!r}: {exc}") from exc
        return self

    def evaluate(self, args: Mapping[str, Any]) -> bool:
        """True when the condition holds. Raises `ConditionUndecidable` when it can't tell."""
        present, actual = _lookup(args, self.arg)
        if self.op == "exists":
            return present == bool(self.value if self.value is not None else True)
        if not present:
            raise ConditionUndecidable(f"argument {self.arg!r} is missing")
        try:
            return _apply(self.op, actual, self.value)
        except (TypeError, ValueError) as exc:
            raise ConditionUndecidable(f"argument {self.arg!r}={actual!r}: {exc}") from exc


class ConditionUndecidable(Exception):
    """A condition could not be evaluated on these arguments (missing, wrong type)."""


def _lookup(args: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = args
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    number = float(value)
    if not math.isfinite(number):
        # NaN compares false with everything, so "amount gt 1000" would let it through.
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _domains(value: Any) -> list[str]:
    items = value if isinstance(value, list) else _EMAIL_SPLIT.split(str(value))
    addresses = [str(item).strip() for item in items if str(item).strip()]
    if not addresses:
        raise ValueError("no address given")
    domains = []
    for address in addresses:
        if address.count("@") != 1:
            raise ValueError(f"{address!r} is not an email address")
        domains.append(address.rsplit("@", 1)[1].strip(">").lower())
    return domains


def _apply(op: str, actual: Any, expected: Any) -> bool:
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "gt":
        return _number(actual) > _number(expected)
    if op == "gte":
        return _number(actual) >= _number(expected)
    if op == "lt":
        return _number(actual) < _number(expected)
    if op == "lte":
        return _number(actual) <= _number(expected)
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if op == "contains":
        return str(expected).lower() in str(actual).lower()
    if op == "matches":
        return re.search(str(expected), str(actual)) is not None
    allowed = {str(d).lower() for d in expected}
    domains = _domains(actual)
    if op == "domain_in":
        return all(d in allowed for d in domains)
    if op == "domain_not_in":
        return any(d not in allowed for d in domains)
    raise ValueError(f"unknown operator {op!r}")


class Stage(_Strict):
    """One approval step: who must decide, and what happens if nobody does in time."""

    name: str = "approval"
    role: str = "approver"
    timeout_seconds: float | None = Field(default=None, gt=0)
    on_timeout: TimeoutOutcome = "reject"
    escalate_to: str | None = Field(default=None, description="Role asked when this stage escalates.")
    escalation_timeout_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_escalation(self) -> Stage:
        if self.on_timeout == "escalate" and not self.escalate_to:
            raise ValueError(f"stage {self.name!r}: on_timeout 'escalate' needs escalate_to (a role)")
        if self.on_timeout != "reject" and self.timeout_seconds is None:
            raise ValueError(f"stage {self.name!r}: on_timeout {self.on_timeout!r} needs timeout_seconds")
        return self


class ToolRule(_Strict):
    """What to do with a call to one tool when all `when` conditions hold."""

    action: RuleAction = "require_approval"
    when: tuple[Condition, ...] = ()
    stages: tuple[Stage, ...] = (Stage(),)
    allowed_decisions: tuple[DecisionType, ...] = ("approve", "edit", "reject")
    description: str | None = None
    reason: str | None = Field(default=None, description="Told to the model when the call is denied.")

    @field_validator("allowed_decisions")
    @classmethod
    def _non_empty(cls, value: tuple[DecisionType, ...]) -> tuple[DecisionType, ...]:
        if not value:
            raise ValueError("allowed_decisions must name at least one decision")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _stages_needed(self) -> ToolRule:
        if self.action == "require_approval" and not self.stages:
            raise ValueError("a require_approval rule needs at least one stage")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be distinct, got {names}")
        return self

    def strictness(self) -> tuple[int, int]:
        """Order rules by how much they demand: deny > more stages > fewer > allow."""
        rank = {"allow": 0, "require_approval": 1, "deny": 2}[self.action]
        return rank, len(self.stages) if self.action == "require_approval" else 0


class AccessRules(_Strict):
    """Who may do what, beside the per-stage roles: read by the service's authorization.

    Secure by default: a requester may not decide their own request, and only `admin`
    reads the whole audit log. `start_roles` empty means any authenticated identity.
    """

    start_roles: tuple[str, ...] = Field(default=(), description="Roles that may start runs; empty: anyone.")
    self_approval: bool = Field(default=False, description="May the requester decide their own request?")
    admin_role: str = "admin"
    state_edit_roles: tuple[str, ...] = Field(
        default=("admin",), description="Roles that may rewrite a thread's state (update_state)."
    )
    read_roles: tuple[str, ...] = Field(
        default=(), description="Roles that may read every thread (auditors); the admin role always may."
    )


class ProvenanceRule(_Strict):
    """Per tool: which arguments must come from the user, and what happens when one does not.

    `key_args` None: the tool's own `metadata["hitl_key_args"]` (the built-in `send_email`
    names `to`). See `approvals/provenance.py`.
    """

    on_ungrounded: Literal["refuse", "flag", "ignore"] = "refuse"
    key_args: tuple[str, ...] | None = None


def _coerce_rules(value: Any) -> Any:
    """Accept the short forms `tool: allow` and `tool: {…}` besides a list of rules."""
    if isinstance(value, str):
        return [{"action": value}]
    if isinstance(value, Mapping):
        return [value]
    return value


@dataclass(frozen=True)
class Verdict:
    """How the policy classifies one call."""

    tool: str
    action: RuleAction
    rule_id: str
    stages: tuple[Stage, ...] = ()
    allowed_decisions: tuple[DecisionType, ...] = ()
    description: str | None = None
    reason: str | None = None
    notes: tuple[str, ...] = field(default=())


class ApprovalPolicy(_Strict):
    """Per-tool rules; the first rule whose conditions hold decides.

    `default` applies to tools the agent has but the policy does not mention. It is
    `require_approval` unless set otherwise: an unlisted tool is never run unreviewed.
    """

    version: Literal[1] = 1
    default: RuleAction = "require_approval"
    default_stages: tuple[Stage, ...] = (Stage(),)
    tools: dict[str, tuple[ToolRule, ...]] = Field(default_factory=dict)
    max_identical_retries: int = Field(
        default=2, ge=0, description="Rejections of one exact call before it is refused unasked."
    )
    max_calls_per_turn: int = Field(default=16, ge=1)
    turn_calls: Literal["each", "together"] = Field(
        default="each",
        description=(
            "each: the calls of one model turn are asked about at once and an approved call runs "
            "when its own review is done; together: they are asked one after another and none runs "
            "before every one is decided (for turns whose calls depend on each other)."
        ),
    )
    access: AccessRules = Field(default_factory=AccessRules)
    provenance: dict[str, ProvenanceRule] = Field(
        default_factory=dict,
        description="Per tool: key arguments and what to do when the user never wrote them.",
    )

    @field_validator("provenance", mode="before")
    @classmethod
    def _provenance_short_form(cls, value: Any) -> Any:
        """`send_email: flag` means `{on_ungrounded: flag}`."""
        if not isinstance(value, Mapping):
            return value
        return {
            name: {"on_ungrounded": rule} if isinstance(rule, str) else rule for name, rule in value.items()
        }

    def provenance_for(self, tool: str) -> ProvenanceRule:
        return self.provenance.get(tool) or ProvenanceRule()

    @field_validator("tools", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {name: _coerce_rules(rules) for name, rules in value.items()}

    @field_validator("tools")
    @classmethod
    def _non_empty_rules(cls, value: dict[str, tuple[ToolRule, ...]]) -> dict[str, tuple[ToolRule, ...]]:
        for name, rules in value.items():
            if not rules:
                raise ValueError(f"tool {name!r} has an empty rule list")
        return value

    # -- construction -------------------------------------------------------------------

    @classmethod
    def require_approval_for(
        cls, *tool_names: str, others: RuleAction = "allow", stages: tuple[Stage, ...] | None = None
    ) -> ApprovalPolicy:
        """The tutorial's `SENSITIVE_TOOLS` set as a policy."""
        rule = ToolRule(stages=stages) if stages else ToolRule()
        return cls(default=others, tools={name: (rule,) for name in tool_names})

    @classmethod
    def allow_all(cls) -> ApprovalPolicy:
        """No dynamic gate: for graphs whose human checkpoint is a static breakpoint."""
        return cls(default="allow")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "policy") -> ApprovalPolicy:
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
            )
            raise PolicyError(f"{source} is not a valid approval policy: {problems}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> ApprovalPolicy:
        """Load a `.yaml`/`.yml` or `.toml` policy file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
        try:
            if path.suffix == ".toml":
                data: Any = tomllib.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                data = yaml.safe_load(text)
            else:
                raise PolicyError(f"policy file {path} must end in .yaml, .yml or .toml")
        except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"policy file {path} does not parse: {exc}") from exc
        if not isinstance(data, Mapping):
            raise PolicyError(f"policy file {path} must hold a mapping at the top level")
        return cls.from_mapping(data, source=f"policy file {path}")

    def check_tools(self, tool_names: Collection[str]) -> None:
        """Refuse rules for tools the agent does not have: most likely a typo."""
        unknown = sorted((set(self.tools) | set(self.provenance)) - set(tool_names))
        if unknown:
            raise PolicyError(
                f"the approval policy has rules for unknown tool(s) {unknown}; the agent's tools "
                f"are {sorted(tool_names)}. Fix the tool name in the policy."
            )

    # -- classification -----------------------------------------------------------------

    def classify(self, tool: str, args: Mapping[str, Any]) -> Verdict:
        rules = self.tools.get(tool)
        if rules is None:
            default = ToolRule(action=self.default, stages=self.default_stages)
            return _verdict(tool, default, "default")
        for index, rule in enumerate(rules):
            try:
                matched = all(cond.evaluate(args) for cond in rule.when)
            except ConditionUndecidable as exc:
                strictest_index, strictest = max(enumerate(rules), key=lambda pair: pair[1].strictness())
                verdict = _verdict(tool, strictest, f"{tool}#{strictest_index}")
                note = f"rule {tool}#{index} could not be evaluated ({exc}); the strictest rule applies"
                return Verdict(**{**verdict.__dict__, "notes": (note,)})
            if matched:
                return _verdict(tool, rule, f"{tool}#{index}")
        fallback = ToolRule(action=self.default, stages=self.default_stages)
        return _verdict(tool, fallback, "default")


def _verdict(tool: str, rule: ToolRule, rule_id: str) -> Verdict:
    return Verdict(
        tool=tool,
        action=rule.action,
        rule_id=rule_id,
        stages=rule.stages if rule.action == "require_approval" else (),
        allowed_decisions=rule.allowed_decisions,
        description=rule.description,
        reason=rule.reason,
    )
