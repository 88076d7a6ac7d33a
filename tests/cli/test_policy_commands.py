"""`hitl policy check|explain|test`: the answers are the gate's and the service's own."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from langgraph_ollama_local.cli.app import app

runner = CliRunner()
POLICY = """\
default: require_approval
access: {self_approval: false}
tools:
  get_weather: allow
  delete_records: {action: deny, reason: "the agent never deletes data"}
  send_email:
    - when: [{arg: to, op: domain_not_in, value: [example.com]}]
      stages:
        - {name: manager, role: manager, timeout_seconds: 3600, on_timeout: escalate, escalate_to: director}
        - {name: security, role: security}
    - stages: [{name: manager, role: manager}]
"""
CASES = """\
cases:
  - name: outside mail takes two stages
    tool: send_email
    args: {to: x@evil.example.com}
    expect: {action: require_approval, rule: "send_email#0", stages: [manager, security], roles: [manager, security]}
  - name: the requester may not approve their own mail
    tool: send_email
    args: {to: a@example.com}
    as: bob
    roles: [manager]
    requester: bob
    expect: {stages: [manager], may_decide: [false]}
  - name: another manager may
    tool: send_email
    args: {to: a@example.com}
    as: carol
    roles: [manager]
    requester: bob
    expect: {may_decide: [true]}
  - {tool: delete_records, args: {}, expect: {action: deny}}
  - {tool: unknown_tool, args: {}, expect: {action: require_approval, rule: default}}
"""


def test_check_lists_every_rule_and_refuses_typos(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    ok = runner.invoke(app, ["policy", "check", str(tmp_path / "p.yaml")])
    assert ok.exit_code == 0 and "send_email#0" in ok.output and "send_email#1" in ok.output
    (tmp_path / "typo.yaml").write_text(POLICY.replace("stages:\n        -", "stagez:\n        -"))
    bad = runner.invoke(app, ["policy", "check", str(tmp_path / "typo.yaml")])
    assert bad.exit_code == 2 and "stagez" in bad.output


def test_explain_says_which_rule_and_who_may_decide(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    out = runner.invoke(app, ["policy", "explain", str(tmp_path / "p.yaml"), "--tool", "send_email",
                              "--args", '{"to": "x@evil.example.com"}', "--as", "bob", "--roles", "manager",
                              "--requester", "alice", "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["rule"] == "send_email#0" and [s["role"] for s in result["stages"]] == ["manager", "security"]
    assert result["stages"][0]["deadline"] == "after 3600 s: escalate to director"
    assert [s["may_decide"] for s in result["stages"]] == [True, False]
    assert "security" in result["stages"][1]["why_not"]


def test_table_driven_cases_exit_non_zero_on_a_mismatch(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "cases.yaml").write_text(CASES)
    ok = runner.invoke(app, ["policy", "test", str(tmp_path / "p.yaml"), str(tmp_path / "cases.yaml")])
    assert ok.exit_code == 0 and "5 passed, 0 failed" in ok.output, ok.output
    (tmp_path / "wrong.yaml").write_text(CASES.replace("may_decide: [true]", "may_decide: [false]"))
    wrong = runner.invoke(app, ["policy", "test", str(tmp_path / "p.yaml"), str(tmp_path / "wrong.yaml")])
    assert wrong.exit_code == 1 and "✗ another manager may: may_decide expected [False], got [True]" in wrong.output
