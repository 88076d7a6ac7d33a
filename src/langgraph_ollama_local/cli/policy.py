"""`hitl policy check|explain|test`: the approval policy as code you can test.

Everything here asks the same functions the gate and the service ask — the policy's
`classify` (which rule, which stages) and `auth.can_decide` (may this person decide) — so
what `explain` prints is what happens, and `test` can hold a team's expectations in CI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.approvals.policy import ApprovalPolicy, Verdict
from langgraph_ollama_local.auth import Principal, can_decide
from langgraph_ollama_local.cli.common import make_console, user_errors

policy_app = typer.Typer(help="Check, explain and test an approval policy file.", no_args_is_help=True)
EXIT_MISMATCH = 1


def explain_call(
    policy: ApprovalPolicy,
    tool: str,
    args: Mapping[str, Any],
    *,
    user: str | None = None,
    roles: Sequence[str] = (),
    requester: str | None = None,
) -> dict[str, Any]:
    """Which rule applies to this call, its stages, and (with `user`) whether they may decide each."""
    verdict = policy.classify(tool, args)
    stages = []
    for index, stage in enumerate(verdict.stages):
        timeout = (
            f"after {stage.timeout_seconds:g} s: {stage.on_timeout}"
            + (f" to {stage.escalate_to}" if stage.on_timeout == "escalate" else "")
            if stage.timeout_seconds
            else "no deadline"
        )
        entry: dict[str, Any] = {"name": stage.name, "role": stage.role, "deadline": timeout}
        if user is not None:
            entry["may_decide"], entry["why_not"] = _may_decide(
                policy, verdict, index, Principal(user, frozenset(roles)), requester
            )
        stages.append(entry)
    return {
        "tool": tool,
        "action": verdict.action,
        "rule": verdict.rule_id,
        "allowed_decisions": list(verdict.allowed_decisions) if verdict.action == "require_approval" else [],
        "stages": stages,
        "reason": verdict.reason,
        "notes": list(verdict.notes),
    }


def _may_decide(
    policy: ApprovalPolicy, verdict: Verdict, index: int, principal: Principal, requester: str | None
) -> tuple[bool, str | None]:
    stage = verdict.stages[index]
    item = ApprovalRequest(
        id="explain",
        thread_id="explain",
        interrupt_id=None,
        kind="tool_approval",
        status="pending",
        created_at=datetime.now(UTC),
        tool=verdict.tool,
        stage=stage.name,
        stage_index=index,
        stage_count=len(verdict.stages),
        required_role=stage.role,
        requested_by=requester,
    )
    denied = can_decide(principal, item, policy.access)
    return denied is None, denied.reason if denied else None


def _load(path: Path) -> ApprovalPolicy:
    return ApprovalPolicy.from_file(path)


@policy_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="The policy file (.yaml/.toml).")]) -> None:
    """Validate the file (unknown keys, operators and typos are errors) and list every rule."""
    with user_errors():
        policy = _load(file)
    console = make_console()
    console.print(f"✓ {file}: valid; tools not listed: {policy.default}", highlight=False, soft_wrap=True)
    for tool, rules in policy.tools.items():
        for index, rule in enumerate(rules):
            when = " and ".join(f"{c.arg} {c.op} {c.value!r}" for c in rule.when) or "always"
            stages = (
                " → ".join(f"{s.name} ({s.role})" for s in rule.stages)
                if rule.action == "require_approval"
                else ""
            )
            console.print(
                f"  {tool}#{index}: when {when}: {rule.action}" + (f": {stages}" if stages else ""),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    access = policy.access
    console.print(
        f"  access: self_approval {access.self_approval}, "
        f"start_roles {list(access.start_roles) or 'anyone'}, "
        f"admin {access.admin_role}, state_edit_roles {list(access.state_edit_roles)}, "
        f"read_roles {list(access.read_roles)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@policy_app.command("explain")
def explain(
    file: Annotated[Path, typer.Argument(help="The policy file.")],
    tool: Annotated[str, typer.Option(help="The tool the agent calls.")],
    args: Annotated[str, typer.Option(help="Its arguments as JSON.")] = "{}",
    as_user: Annotated[
        str | None, typer.Option("--as", help="Would this person be allowed to decide?")
    ] = None,
    roles: Annotated[list[str] | None, typer.Option("--roles", help="Their roles (repeat).")] = None,
    requester: Annotated[str | None, typer.Option(help="Who asked (for self-approval).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Which rule matches this call, its stages, roles and deadlines, and whether --as may decide."""
    with user_errors():
        policy = _load(file)
    try:
        call_args = json.loads(args)
    except json.JSONDecodeError as exc:
        make_console(stderr=True).print(f"error: --args is not JSON: {exc}", markup=False)
        raise typer.Exit(2) from exc
    if not isinstance(call_args, dict):
        make_console(stderr=True).print("error: --args must be a JSON object", markup=False)
        raise typer.Exit(2)
    result = explain_call(policy, tool, call_args, user=as_user, roles=roles or [], requester=requester)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    console = make_console()
    console.print(f"{tool}: {result['action']} (rule {result['rule']})", markup=False, highlight=False)
    for note in result["notes"]:
        console.print(f"  note: {note}", markup=False, highlight=False, soft_wrap=True)
    if result["reason"]:
        console.print(f"  reason told to the model: {result['reason']}", markup=False, highlight=False)
    for index, stage in enumerate(result["stages"], 1):
        line = f"  stage {index}: {stage['name']}, role {stage['role']}, {stage['deadline']}"
        if "may_decide" in stage:
            line += (
                f"; {as_user} may decide"
                if stage["may_decide"]
                else f"; {as_user} may not: {stage['why_not']}"
            )
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if result["allowed_decisions"]:
        console.print(f"  decisions: {', '.join(result['allowed_decisions'])}", markup=False, highlight=False)


@policy_app.command("test")
def test(
    file: Annotated[Path, typer.Argument(help="The policy file.")],
    cases: Annotated[
        Path, typer.Argument(help="YAML: a list of {tool, args, [as, roles, requester], expect}.")
    ],
) -> None:
    """Table-driven expectations for your CI: exit 1 and name every case that does not hold.

    `expect` may hold `action`, `rule`, `stages` (names), `roles` (per stage) and
    `may_decide` (per stage, with `as`/`roles`)."""
    with user_errors():
        policy = _load(file)
    loaded = yaml.safe_load(cases.read_text(encoding="utf-8"))
    table = loaded.get("cases") if isinstance(loaded, Mapping) else loaded
    if not isinstance(table, list):
        make_console(stderr=True).print(
            f"error: {cases} must hold a list of cases (or cases: [...])", markup=False
        )
        raise typer.Exit(2)
    console = make_console()
    failures = 0
    for number, case in enumerate(table, 1):
        name = case.get("name") or f"case {number}"
        result = explain_call(
            policy,
            str(case["tool"]),
            case.get("args") or {},
            user=case.get("as"),
            roles=case.get("roles") or [],
            requester=case.get("requester"),
        )
        actual = {
            "action": result["action"],
            "rule": result["rule"],
            "stages": [s["name"] for s in result["stages"]],
            "roles": [s["role"] for s in result["stages"]],
            "may_decide": [s.get("may_decide") for s in result["stages"]],
        }
        wrong = {k: (v, actual.get(k)) for k, v in (case.get("expect") or {}).items() if actual.get(k) != v}
        if wrong:
            failures += 1
            for key, (want, got) in wrong.items():
                console.print(
                    f"✗ {name}: {key} expected {want!r}, got {got!r}", markup=False, highlight=False
                )
        else:
            console.print(f"✓ {name}", markup=False, highlight=False)
    console.print(f"{len(table) - failures} passed, {failures} failed", highlight=False)
    if failures:
        raise typer.Exit(EXIT_MISMATCH)
