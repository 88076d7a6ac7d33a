"""Policy loading and classification: strict at load time, fail-closed at decision time."""

from __future__ import annotations

import pytest

from langgraph_ollama_local.approvals import ApprovalPolicy, PolicyError

YAML = """
default: require_approval
max_identical_retries: 3
tools:
  get_weather: allow
  delete_records:
    action: deny
    reason: deleting data is never done by the agent
  transfer_money:
    - when: [{arg: amount, op: gt, value: 1000}]
      stages:
        - {name: manager, role: manager, timeout_seconds: 3600, on_timeout: escalate, escalate_to: director}
        - {name: security, role: security}
    - when: [{arg: amount, op: gt, value: 0}]
      stages: [{name: manager, role: manager}]
  send_email:
    - when: [{arg: to, op: domain_not_in, value: [example.com]}]
      allowed_decisions: [approve, edit, reject, respond]
"""

TOML = """
default = "allow"
[[tools.send_email]]
when = [{ arg = "to", op = "domain_not_in", value = ["example.com"] }]
stages = [{ name = "manager", role = "manager" }]
"""


@pytest.fixture
def policy(tmp_path) -> ApprovalPolicy:
    path = tmp_path / "policy.yaml"
    path.write_text(YAML)
    return ApprovalPolicy.from_file(path)


def test_yaml_policy_classifies(policy):
    assert policy.max_identical_retries == 3
    assert policy.classify("get_weather", {"location": "x"}).action == "allow"
    denied = policy.classify("delete_records", {})
    assert denied.action == "deny" and "never" in (denied.reason or "")
    big = policy.classify("transfer_money", {"amount": 5000})
    assert [s.role for s in big.stages] == ["manager", "security"] and big.rule_id == "transfer_money#0"
    small = policy.classify("transfer_money", {"amount": 10})
    assert [s.role for s in small.stages] == ["manager"]
    # No rule matched (amount 0) -> the policy default: approval required.
    assert policy.classify("transfer_money", {"amount": 0}).action == "require_approval"
    outside = policy.classify("send_email", {"to": "x@evil.com"})
    assert outside.allowed_decisions == ("approve", "edit", "reject", "respond")
    assert policy.classify("send_email", {"to": "x@example.com"}).rule_id == "default"


def test_toml_policy(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(TOML)
    policy = ApprovalPolicy.from_file(path)
    assert policy.classify("send_email", {"to": "a@b.org"}).action == "require_approval"
    assert policy.classify("send_email", {"to": "a@example.com"}).action == "allow"


@pytest.mark.parametrize(
    ("args", "expected_rule"),
    [
        ({"amount": "lots"}, "transfer_money#0"),  # not a number: the strictest rule applies
        ({}, "transfer_money#0"),  # missing: strictest
        ({"amount": True}, "transfer_money#0"),  # a boolean is not an amount
    ],
)
def test_undecidable_conditions_fail_closed(policy, args, expected_rule):
    verdict = policy.classify("transfer_money", args)
    assert verdict.rule_id == expected_rule and verdict.notes


def test_domain_conditions_check_every_recipient(policy):
    assert policy.classify("send_email", {"to": "a@example.com, b@evil.com"}).action == "require_approval"
    assert policy.classify("send_email", {"to": ["a@example.com", "b@EXAMPLE.com"]}).rule_id == "default"
    # Not an address at all: undecidable, so the strictest rule (approval) applies.
    assert policy.classify("send_email", {"to": "nobody"}).action == "require_approval"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"tools": {"x": {"acton": "allow"}}}, "acton"),  # typo in a key
        ({"tools": {"x": "alow"}}, "action"),  # typo in a value
        ({"tools": {"x": {"when": [{"arg": "a", "op": "bigger", "value": 1}]}}}, "op"),
        ({"tools": {"x": {"when": [{"arg": "a", "op": "gt", "value": "1"}]}}}, "needs a number"),
        ({"tools": {"x": {"stages": []}}}, "at least one stage"),
        ({"tools": {"x": {"allowed_decisions": []}}}, "at least one"),
        ({"tools": {"x": {"allowed_decisions": ["approve", "maybe"]}}}, "allowed_decisions"),
        ({"tools": {"x": []}}, "empty rule list"),
        ({"defualt": "allow"}, "defualt"),
        ({"version": 2}, "version"),
    ],
)
def test_malformed_policies_are_errors_not_auto_approvals(data, problem):
    with pytest.raises(PolicyError, match=problem):
        ApprovalPolicy.from_mapping(data)


def test_file_errors_are_actionable(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        ApprovalPolicy.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "p.json"
    bad.write_text("{}")
    with pytest.raises(PolicyError, match=r"\.yaml, \.yml or \.toml"):
        ApprovalPolicy.from_file(bad)
    broken = tmp_path / "p.yaml"
    broken.write_text("tools: [unclosed")
    with pytest.raises(PolicyError, match="does not parse"):
        ApprovalPolicy.from_file(broken)


def test_check_tools_names_the_typo(policy):
    with pytest.raises(PolicyError, match="delete_records"):
        policy.check_tools({"get_weather", "transfer_money", "send_email"})
