"""Authorization from the policy: stage roles, no self-approval, distinct people per stage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from langgraph_ollama_local.approvals import AccessRules, ApprovalPolicy
from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.auth import (
    Principal,
    can_decide,
    can_edit_state,
    can_read_full_audit,
    can_start_runs,
)
from langgraph_ollama_local.auth.identity import check_user_name

STRICT = AccessRules()


def request(**over) -> ApprovalRequest:
    base = dict(
        id="r", thread_id="t", interrupt_id="i", kind="tool_approval", status="pending",
        created_at=datetime.now(UTC), tool="send_email", required_role="approver", stage="manager",
        requested_by="alice", payload={"hitl": {"prior_decisions": []}},
    )
    return ApprovalRequest(**{**base, **over})


def who(user: str, *roles: str) -> Principal:
    return Principal(user, frozenset(roles))


def test_stage_role_is_required():
    denied = can_decide(who("bob", "viewer"), request(), STRICT)
    assert denied is not None and denied.rule == "stage.role" and "'approver'" in denied.reason
    assert can_decide(who("bob", "approver"), request(), STRICT) is None


def test_admin_is_not_an_approver_by_default():
    denied = can_decide(who("root", "admin"), request(), STRICT)
    assert denied is not None and denied.rule == "stage.role"


def test_requester_cannot_approve_own_request_unless_policy_allows():
    denied = can_decide(who("alice", "approver"), request(), STRICT)
    assert denied is not None and denied.rule == "access.self_approval" and "own request" in denied.reason
    assert can_decide(who("alice", "approver"), request(), AccessRules(self_approval=True)) is None


def test_multi_stage_needs_distinct_people():
    stage2 = request(stage="finance", stage_index=1, stage_count=2,
                     payload={"hitl": {"prior_decisions": [{"type": "approve", "actor": "bob", "stage": "manager"}]}})
    denied = can_decide(who("bob", "approver"), stage2, STRICT)
    assert denied is not None and denied.rule == "stages.distinct_people"
    assert can_decide(who("carol", "approver"), stage2, STRICT) is None


def test_questions_go_to_the_requester_or_an_approver():
    question = request(kind="question", required_role=None, tool=None)
    assert can_decide(who("alice"), question, STRICT) is None
    assert can_decide(who("bob", "approver"), question, STRICT) is None
    assert can_decide(who("mallory"), question, STRICT) is not None


def test_breakpoints_need_an_approver():
    breakpoint_item = request(kind="breakpoint", required_role=None, tool=None, requested_by="alice")
    assert can_decide(who("bob"), breakpoint_item, STRICT) is not None
    assert can_decide(who("bob", "approver"), breakpoint_item, STRICT) is None


def test_start_runs_audit_and_state_rules():
    rules = AccessRules(start_roles=("requester",))
    assert can_start_runs(who("a", "requester"), rules) is None
    assert can_start_runs(who("b", "approver"), rules) is not None
    assert can_start_runs(who("anyone"), STRICT) is None  # empty start_roles: any authenticated identity
    assert can_read_full_audit(who("a", "approver"), STRICT) is not None
    assert can_read_full_audit(who("a", "admin"), STRICT) is None
    assert can_edit_state(who("a", "approver"), STRICT) is not None
    assert can_edit_state(who("a", "admin"), STRICT) is None


def test_policy_files_default_to_separation_of_duties():
    policy = ApprovalPolicy.from_mapping({"tools": {}})
    assert policy.access.self_approval is False
    custom = ApprovalPolicy.from_mapping({"access": {"self_approval": True, "start_roles": ["requester"]}})
    assert custom.access.self_approval is True and custom.access.start_roles == ("requester",)
    with pytest.raises(Exception, match="access"):
        ApprovalPolicy.from_mapping({"access": {"self_aproval": True}})  # typo: refused, not ignored


@pytest.mark.parametrize("name", ["system", "system:deadline", "SYSTEM-x", "", " bob", "a b", "x" * 201, "<script>"])
def test_reserved_or_odd_user_names_are_refused(name):
    with pytest.raises(ValueError, match="user name"):
        check_user_name(name)


def test_who_may_read_and_write_a_thread():
    from langgraph_ollama_local.auth import ThreadFacts, can_read_thread, can_write_thread

    rules = AccessRules(read_roles=("auditor",))
    facts = ThreadFacts("t", exists=True, owner="alice", pending_roles=frozenset({"approver"}),
                        participants=frozenset({"erin"}))  # fmt: skip
    may_read = {"alice": set(), "bob": {"approver"}, "erin": set(), "root": {"admin"}, "aud": {"auditor"}}
    for user, roles in may_read.items():
        assert can_read_thread(Principal(user, frozenset(roles)), facts, rules) is None, user
    for user, roles in {"dave": {"requester"}, "carol": {"finance"}, "mon": {"monitor"}, "v": set()}.items():
        denied = can_read_thread(Principal(user, frozenset(roles)), facts, rules)
        assert denied is not None and denied.rule == "thread.read", user
    # a thread that does not exist reads like one that is not yours
    missing = can_read_thread(Principal("alice"), ThreadFacts("t", exists=False), rules)
    assert missing is not None and "not yours" in missing.reason
    assert can_write_thread(Principal("alice"), facts, rules) is None
    assert can_write_thread(Principal("root", frozenset({"admin"})), facts, rules) is None
    for who in (Principal("bob", frozenset({"approver"})), Principal("aud", frozenset({"auditor"}))):
        denied = can_write_thread(who, facts, rules)
        assert denied is not None and denied.rule == "thread.write"
    assert can_write_thread(Principal("dave"), ThreadFacts("new", exists=False), rules) is None


def test_the_loser_of_a_race_learns_who_won_a_stranger_nothing():
    from langgraph_ollama_local.auth import ThreadFacts, can_see_request

    rules = AccessRules()
    decided = request(status="approved", decided_by="bob")
    facts = ThreadFacts("t", exists=True, owner="alice", participants=frozenset({"alice", "bob"}))
    assert can_see_request(Principal("carol", frozenset({"approver"})), decided, facts, rules) is None
    assert can_see_request(Principal("dave", frozenset({"finance"})), decided, facts, rules) is not None
    assert can_see_request(Principal("alice"), decided, facts, rules) is None  # her own thread


def test_decision_refusal_adds_status_and_deadline_to_can_decide():
    """The inbox's `viewer` check: decided and overdue items first, then the same rules."""
    from datetime import timedelta

    from langgraph_ollama_local.auth import decision_refusal

    now = datetime.now(UTC)
    bob = who("bob", "approver")
    assert decision_refusal(bob, request(), STRICT, now) is None
    done = decision_refusal(bob, request(status="approved", decided_by="carol"), STRICT, now)
    assert done is not None and done.rule == "status" and "approved by carol" in done.reason
    late = request(deadline=now - timedelta(seconds=1), on_timeout="escalate", escalate_to="director")
    denied = decision_refusal(bob, late, STRICT, now)
    assert denied is not None and denied.rule == "deadline" and "'director'" in denied.reason
    assert decision_refusal(bob, request(deadline=now + timedelta(seconds=5)), STRICT, now) is None
    own = decision_refusal(who("alice", "approver"), request(), STRICT, now)
    assert own == can_decide(who("alice", "approver"), request(), STRICT)
