"""Who may read which thread, in the store: the owner is recorded, and the SQL that cuts
listings (`readable_by`) gives the same answers as the pure rule (`can_read_thread`)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth import Principal, can_read_thread, reads_every_thread
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery, NewRequest, Reader
from langgraph_ollama_local.store.database import alembic_config, sqlalchemy_urls

RULES = AccessRules(read_roles=("auditor",))
PEOPLE = [
    Principal("alice", frozenset({"requester"})),
    Principal("dave", frozenset({"requester"})),
    Principal("bob", frozenset({"approver"})),
    Principal("carol", frozenset({"finance"})),
    Principal("erin", frozenset({"manager"})),
    Principal("viewer"),
    Principal("root", frozenset({"admin"})),
    Principal("aud", frozenset({"auditor"})),
]


def item(interrupt_id: str, role: str | None, requested_by: str = "alice") -> NewRequest:
    return NewRequest(kind="tool_approval", interrupt_id=interrupt_id, tool="send_email", args={"to": "x@example.com"},
                      required_role=role, requested_by=requested_by)  # fmt: skip


async def test_listings_and_the_rule_agree(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        assert await store.ensure_thread("a-pending", actor="alice") == "alice"
        assert await store.ensure_thread("a-pending", actor="dave") == "alice"  # the first one keeps it
        await store.record_requests("a-pending", None, [item("i1", "approver")])
        await store.ensure_thread("a-default-role", actor="alice")
        await store.record_requests("a-default-role", None, [item("i2", None)])  # no role: approvers
        await store.ensure_thread("a-decided", actor="alice")
        (done,) = await store.record_requests("a-decided", None, [item("i3", "manager")])
        await store.decide(done.id, status="approved", decision={"type": "approve"}, actor="erin")
        await store.ensure_thread("d-quiet", actor="dave")
        await store.ensure_thread("d-finance", actor="dave")
        await store.record_requests("d-finance", None, [item("i4", "finance", requested_by="dave")])
        threads = ["a-pending", "a-default-role", "a-decided", "d-quiet", "d-finance"]
        expected = {
            "alice": {"a-pending", "a-default-role", "a-decided"},
            "dave": {"d-quiet", "d-finance"},
            "bob": {"a-pending", "a-default-role"},
            "carol": {"d-finance"},
            "erin": {"a-decided"},  # decided something there: a participant
            "viewer": set(),
        }
        for person in PEOPLE:
            by_rule = {t for t in threads if can_read_thread(person, await store.thread_facts(t), RULES) is None}
            reader = None if reads_every_thread(person, RULES) else Reader(person.user, person.roles)
            listed = {r["id"] for r in await store.list_threads(500, reader=reader)}
            items, _ = await store.inbox(InboxQuery(status=None, reader=reader, limit=500))
            assert listed == by_rule, person
            assert {i.thread_id for i in items} <= by_rule, person
            assert expected.get(person.user, set(threads)) == by_rule, person
        assert (await store.thread_facts("nope")).exists is False
        assert can_read_thread(PEOPLE[0], await store.thread_facts("nope"), RULES) is not None
    finally:
        await store.close()


def test_migration_records_existing_threads_owner(store_url):
    _, sync_url = sqlalchemy_urls(store_url)
    config = alembic_config(sync_url)
    command.upgrade(config, "0003")
    engine = sa.create_engine(sync_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO hitl_threads (id, created_at, created_by) VALUES ('old', CURRENT_TIMESTAMP, 'alice')"))
        command.upgrade(config, "head")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT owner FROM hitl_threads WHERE id = 'old'")).scalar() == "alice"
        command.downgrade(config, "0003")
        command.upgrade(config, "head")
    finally:
        engine.dispose()
