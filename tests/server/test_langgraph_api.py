"""LangGraph's own client (`langgraph-sdk`, sync and async) against a real `hitl serve`.

SQLite and PostgreSQL; on PostgreSQL also an API-only process whose runs a separate
`hitl worker` executes, so the stream crosses processes over LISTEN/NOTIFY. The product
invariant is checked from the outside: the outbox stays empty until the approval the
policy demands is given, and a refused resume changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError, PermissionDeniedError, UnprocessableEntityError

from tests.conftest import PG_ADMIN
from tests.server.support import HITL, Service, launch, start_worker, wait_until

USERS = {
    "alice": ("requester",),  # asks
    "bob": ("approver",),  # approves
    "carol": ("requester", "approver"),  # both: may not approve her own request (self_approval: false)
    "root": ("admin",),
}
ASK = {"messages": [{"role": "user", "content": "Send email to dave@example.com"}]}


@pytest.fixture(scope="module")
def pg_db() -> Iterator[str]:
    name = f"hitl_lgapi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def svc(request, tmp_path_factory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp(f"lgapi-{request.param}")
    db = request.getfixturevalue("pg_db") if request.param == "postgres" else None
    service = launch(home, graph="scripted_graph.py:graph", users=USERS, db=db,
                     # every test here also runs on threads pruned to their newest 3 checkpoints
                     env={"HITL_AUTH__DECISION_RATE": "1000/minute", "HITL_RETENTION__ENABLED": "true", "HITL_RETENTION__KEEP_CHECKPOINTS": "3"})
    yield service
    service.stop()


def sdk(svc: Service, user: str):
    return get_sync_client(url=svc.base, api_key=svc.tokens[user])


def new_thread(client, **metadata: Any) -> str:
    return client.threads.create(metadata=metadata or None)["thread_id"]


def stream_parts(client, thread_id: str, **kwargs: Any) -> list[tuple[str, Any]]:
    return [(p.event, p.data) for p in client.runs.stream(thread_id, "agent", **kwargs)]


def pause(client, thread_id: str) -> dict[str, Any]:
    """Run to the approval interrupt; returns the interrupt as the SDK sees it."""
    parts = stream_parts(client, thread_id, input=ASK, stream_mode=["values", "updates"])
    events = [event for event, _ in parts]
    assert events[0] == "metadata" and events[-1] == "end"
    interrupts = [d["__interrupt__"] for e, d in parts if e == "updates" and "__interrupt__" in d]
    assert len(interrupts) == 1 and interrupts[0][0]["value"]["name"] == "send_email"
    last_values = [d for e, d in parts if e == "values"][-1]
    assert last_values["__interrupt__"][0]["id"] == interrupts[0][0]["id"]
    return interrupts[0][0]


def refused(call: Any) -> int:
    """The status of a call the SDK raises for (runs.wait/join raise plain httpx errors)."""
    with pytest.raises(httpx.HTTPStatusError) as err:
        call()
    return err.value.response.status_code


def sent_to(svc: Service) -> list[str]:
    return sorted(line.split(":", 1)[1].strip() for p in svc.outbox()
                  for line in p.read_text().splitlines() if line.startswith("To:"))


def tool_messages(client, thread_id: str) -> list[dict[str, Any]]:
    return [m for m in client.threads.get_state(thread_id)["values"]["messages"] if m["type"] == "tool"]


def test_discovery_threads_and_501(svc):
    alice = sdk(svc, "alice")
    assert alice.http.get("/ok") == {"ok": True} and "version" in alice.http.get("/info")
    (assistant,) = alice.assistants.search()
    assert assistant["graph_id"] == "agent"
    assert alice.assistants.get(assistant["assistant_id"])["assistant_id"] == alice.assistants.get("agent")["assistant_id"]
    with pytest.raises(NotFoundError):
        alice.assistants.get("nope")
    assert "messages" in alice.assistants.get_schemas("agent")["state_schema"]["properties"]
    assert {n["id"] for n in alice.assistants.get_graph("agent")["nodes"]} >= {"agent", "tools"}
    thread = alice.threads.create(thread_id=f"t-{uuid.uuid4().hex[:6]}", metadata={"team": "ops"})
    assert thread["status"] == "idle" and thread["metadata"] == {"team": "ops"}
    with pytest.raises(ConflictError):
        alice.threads.create(thread_id=thread["thread_id"])
    assert alice.threads.create(thread_id=thread["thread_id"], if_exists="do_nothing")["thread_id"] == thread["thread_id"]
    assert alice.threads.get(thread["thread_id"])["metadata"] == {"team": "ops"}
    found = alice.threads.search(metadata={"team": "ops"}, limit=100)
    assert [t["thread_id"] for t in found] == [thread["thread_id"]]
    assert alice.threads.search(ids=[thread["thread_id"]], status="interrupted") == []
    # Another person's thread and no thread at all get the same 403: ids leak nothing.
    with pytest.raises(PermissionDeniedError):
        alice.threads.get("no-such-thread")
    # unimplemented routes answer 501 with what is missing, never 404
    for call in (lambda: alice.threads.copy(thread["thread_id"]), lambda: alice.crons.search(),
                 lambda: alice.store.search_items(["a"])):
        with pytest.raises(httpx.HTTPStatusError) as err:
            call()
        assert err.value.response.status_code == 501 and "not implemented" in err.value.response.json()["detail"]


def test_search_pages_count_the_threads_the_caller_may_read(svc):
    """`limit`/`offset` page over what the caller may read: newer threads of someone else's
    do not leave alice a short (or empty) page."""
    alice, root = sdk(svc, "alice"), sdk(svc, "root")
    tag = uuid.uuid4().hex[:8]
    mine = [new_thread(alice, page=tag) for _ in range(3)]
    for _ in range(3):
        new_thread(root, page=tag)  # newer than alice's, and not hers to read
    first = alice.threads.search(metadata={"page": tag}, limit=2)
    rest = alice.threads.search(metadata={"page": tag}, limit=2, offset=2)
    assert [t["thread_id"] for t in first] == mine[::-1][:2]
    assert [t["thread_id"] for t in rest] == mine[:1]
    assert len(root.threads.search(metadata={"page": tag}, limit=10)) == 6


def test_stream_to_interrupt_then_approve_through_resume(svc):
    alice, bob = sdk(svc, "alice"), sdk(svc, "bob")
    thread = new_thread(alice)
    before = sent_to(svc)
    created: list[Any] = []
    parts = [(p.event, p.data) for p in alice.runs.stream(thread, "agent", input=ASK, stream_mode="updates",
                                                         on_run_created=created.append)]
    assert created and created[0]["thread_id"] == thread
    interrupt = next(d["__interrupt__"][0] for e, d in parts if e == "updates" and "__interrupt__" in d)
    assert interrupt["value"]["args"]["to"] == "dave@example.com"
    assert sent_to(svc) == before  # nothing ran without the approval
    assert thread in [t["thread_id"] for t in alice.threads.search(status="interrupted", limit=1000)]
    paused = alice.threads.get(thread)
    assert paused["status"] == "interrupted" and next(iter(paused["interrupts"].values()))[0]["id"] == interrupt["id"]
    state = alice.threads.get_state(thread)
    assert state["next"] == ["tools"] and state["tasks"][0]["interrupts"][0]["id"] == interrupt["id"]
    assert tool_messages(alice, thread) == []

    parts = stream_parts(bob, thread, command={"resume": {interrupt["id"]: {"type": "approve"}}}, stream_mode="updates")
    tools = [d["tools"] for e, d in parts if e == "updates" and "tools" in d]
    assert tools and "dave@example.com" in tools[0]["messages"][0]["content"]
    assert alice.threads.get(thread)["status"] == "idle" and len(sent_to(svc)) == len(before) + 1
    assert thread not in [t["thread_id"] for t in alice.threads.search(status="interrupted", limit=1000)]
    decided = [e for e in svc.client("root").get("/audit", params={"thread_id": thread}).json()
               if e["action"] == "approval.decided"]
    assert [e["actor"] for e in decided] == ["bob"]
    # the server prunes the thread in the background: history keeps the newest 3, the newest first
    history = wait_until(lambda: (h := alice.threads.get_history(thread, limit=50)) and len(h) == 3 and h)
    assert history and len(history) == 3, history
    assert history[0]["values"] == alice.threads.get_state(thread)["values"]
    assert history[-1]["parent_checkpoint"] is None  # no pointer to a deleted checkpoint


def test_edit_through_langchain_decisions_and_a_bad_edit_changes_nothing(svc):
    alice, bob = sdk(svc, "alice"), sdk(svc, "bob")
    thread = new_thread(alice)
    pause(alice, thread)
    bad = {"decisions": [{"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "x@example.com"}}}]}
    with pytest.raises(UnprocessableEntityError):  # edited args that fail the tool's schema
        bob.runs.create(thread, "agent", command={"resume": bad})
    assert refused(lambda: bob.runs.wait(thread, "agent", command={"resume": bad})) == 422
    assert alice.threads.get(thread)["status"] == "interrupted"
    assert len(alice.runs.list(thread)) == 1  # nothing was queued
    edited = {"to": "erin@example.com", "subject": "Hi", "body": "edited"}
    result = bob.runs.wait(thread, "agent", command={"resume": {"decisions": [
        {"type": "edit", "edited_action": {"name": "send_email", "args": edited}}]}})
    assert "erin@example.com" in result["messages"][-1]["content"]
    assert "erin@example.com" in tool_messages(alice, thread)[0]["content"]
    assert "erin@example.com" in sent_to(svc)


def test_reject_through_agent_inbox_response_shape(svc):
    alice, bob = sdk(svc, "alice"), sdk(svc, "bob")
    thread = new_thread(alice)
    pause(alice, thread)
    before = sent_to(svc)
    # Agent Inbox answers with a list of HumanResponse; "ignore" never runs the call
    result = bob.runs.wait(thread, "agent", command={"resume": [{"type": "ignore", "args": None}]})
    (tool,) = tool_messages(alice, thread)
    assert tool["status"] == "error" and "ignored" in tool["content"]
    assert "__interrupt__" not in result and sent_to(svc) == before
    # Agent Inbox's other ignore: update_state(values=None, as_node="__end__"), a decision too
    other = new_thread(alice)
    pause(alice, other)
    with pytest.raises(PermissionDeniedError):  # the requester has no approver role
        alice.threads.update_state(other, None, as_node="__end__")
    assert "checkpoint" in bob.threads.update_state(other, None, as_node="__end__")
    assert wait_until(lambda: alice.threads.get(other)["status"] == "idle", 30)
    (tool,) = tool_messages(alice, other)
    assert tool["status"] == "error" and "ignored" in tool["content"] and sent_to(svc) == before


def test_own_resume_is_refused_and_nothing_runs(svc):
    carol = sdk(svc, "carol")
    thread = new_thread(carol)
    interrupt = pause(carol, thread)
    for resume in ({"type": "approve"}, {interrupt["id"]: {"type": "approve"}}, [{"type": "accept", "args": None}]):
        with pytest.raises(PermissionDeniedError) as err:
            carol.runs.create(thread, "agent", command={"resume": resume})
        assert "cannot decide their own request" in str(err.value.response.json()["detail"])
    alice = sdk(svc, "alice")  # no approver role at all
    assert refused(lambda: alice.runs.wait(thread, "agent", command={"resume": {"type": "approve"}})) == 403
    assert len(carol.runs.list(thread)) == 1 and carol.threads.get(thread)["status"] == "interrupted"
    assert tool_messages(carol, thread) == []
    pending = svc.client("root").get("/approvals", params={"thread_id": thread}).json()["items"]
    assert [p["status"] for p in pending] == ["pending"]
    # Denials are audited (aggregated per client, actor and rule in a window: the row that
    # stands for alice's may name another subject than this thread).
    denied = wait_until(lambda: {e["actor"] for e in svc.audit() if e["action"] == "auth.denied"} >= {"carol", "alice"})
    assert denied
    # a resume on a thread that waits for nothing, and a new input while waiting, are refused
    with pytest.raises(ConflictError):
        carol.runs.create(thread, "agent", input=ASK)
    bob = sdk(svc, "bob")
    bob.runs.wait(thread, "agent", command={"resume": {"type": "reject", "message": "no"}})
    assert refused(lambda: bob.runs.wait(thread, "agent", command={"resume": {"type": "approve"}})) == 409


def test_interrupt_before_tools_per_run(svc):
    alice, bob = sdk(svc, "alice"), sdk(svc, "bob")
    thread = new_thread(alice)
    paused = alice.runs.wait(thread, "agent", input=ASK, interrupt_before=["tools"])
    assert "__interrupt__" not in paused
    state = alice.threads.get_state(thread)
    assert state["next"] == ["tools"] and state["interrupts"] == []
    assert alice.threads.get(thread)["status"] == "interrupted"
    # continuing past the breakpoint is a decision too; the gate then asks for the approval
    assert refused(lambda: alice.runs.wait(thread, "agent", input=None)) == 403
    gated = bob.runs.wait(thread, "agent", input=None)
    assert gated["__interrupt__"][0]["value"]["name"] == "send_email" and tool_messages(alice, thread) == []
    done = bob.runs.wait(thread, "agent", command={"resume": {"type": "approve"}})
    assert "dave@example.com" in done["messages"][-1]["content"]
    # a breakpoint ignored (Agent Inbox) is cancelled: a run without input may not skip it later
    other = new_thread(alice)
    alice.runs.wait(other, "agent", input=ASK, interrupt_before=["tools"])
    bob.runs.wait(other, "agent", command={"resume": [{"type": "ignore", "args": None}]})
    assert refused(lambda: alice.runs.wait(other, "agent", input=None)) == 409
    assert alice.threads.get_state(other)["next"] == ["tools"] and tool_messages(alice, other) == []


def test_async_client_full_cycle_with_agent_inbox_accept(svc):
    async def cycle() -> None:
        alice = get_client(url=svc.base, api_key=svc.tokens["alice"])
        bob = get_client(url=svc.base, headers={"Authorization": f"Bearer {svc.tokens['bob']}"})
        thread = (await alice.threads.create())["thread_id"]
        events = [p async for p in alice.runs.stream(thread, "agent", input=ASK, stream_mode=["updates", "messages-tuple"])]
        assert any(p.event == "updates" and "__interrupt__" in p.data for p in events)
        messages = [p.data for p in events if p.event == "messages"]  # messages-tuple: [message, metadata]
        assert messages and all(m[1]["langgraph_node"] == "agent" for m in messages)
        assert messages[0][0]["tool_calls"][0]["name"] == "send_email"
        waiting = await bob.threads.search(status="interrupted", limit=1000)
        assert thread in [t["thread_id"] for t in waiting]
        run = await bob.runs.create(thread, "agent", command={"resume": [{"type": "accept", "args": None}]})
        joined = await bob.runs.join(thread, run["run_id"])
        assert "dave@example.com" in joined["messages"][-1]["content"]
        assert (await bob.runs.get(thread, run["run_id"]))["status"] == "success"

    asyncio.run(cycle())


def test_credentials_and_our_bodies_on_shared_paths(svc):
    assert httpx.get(f"{svc.base}/threads/search").status_code in (401, 405)
    assert httpx.post(f"{svc.base}/threads/search", json={}).status_code == 401
    assert httpx.post(f"{svc.base}/runs/crons", json={}).status_code == 401  # a 501 route still needs a credential
    assert httpx.post(f"{svc.base}/threads/search", json={}, headers={"x-api-key": "hitl_0123456789ab_" + "x" * 43}).status_code == 401
    assert httpx.post(f"{svc.base}/threads/search", json={}, headers={"x-api-key": svc.tokens["alice"]}).status_code == 200
    # our own body on /threads/{id}/runs still works, and answers with both sets of fields
    alice = svc.client("alice")
    run = alice.post("/threads/ours-1/runs", json={"message": "hello"})
    assert run.status_code == 202 and run.json()["id"] == run.json()["run_id"] and run.json()["status"] == "queued"
    assert alice.get(f"/runs/{run.json()['id']}/wait", params={"seconds": 30}).json()["status"] == "succeeded"
    state = alice.get("/threads/ours-1/state").json()
    message = state["values"]["messages"][-1]
    assert message["content"] == message["data"]["content"] == "You said: hello"
    assert state["checkpoint"]["thread_id"] == "ours-1" and state["next"] == []
    # one body or the other, as the published oneOf says: neither, or both at once, is a 422
    assert alice.post("/threads/ours-1/runs", json={}).status_code == 422
    assert alice.post("/threads/ours-1/runs", json={"message": "hi", "assistant_id": "agent"}).status_code == 422
    # a method a path lacks: 405, and Allow lists every documented method (ours, LangGraph's, 501s)
    for method, path, allow in (("PUT", "/threads", "GET, POST"), ("PUT", "/threads/ours-1/state", "GET, POST"),
                                ("PUT", "/threads/search", "POST"), ("PUT", "/threads/ours-1", "DELETE, GET, PATCH")):
        answer = alice.request(method, path)
        assert (answer.status_code, answer.headers.get("allow")) == (405, allow), (method, path)
    # a thread id outside Latin-1 goes percent-encoded into Content-Location (was a 500)
    wait = alice.post("/threads/\u012e-ours/runs/wait", json={"assistant_id": "agent", "if_not_exists": "create"})
    assert wait.status_code == 200 and wait.headers["content-location"].startswith("/threads/%C4%AE-ours/runs/")
    # a LangGraph method we do not implement is documented, and answers 501 naming it
    assert "501" in httpx.get(f"{svc.base}/openapi.json").json()["paths"]["/threads/{thread_id}"]["patch"]["responses"]
    assert "threads.update" in alice.patch("/threads/ours-1").json()["detail"]


@pytest.mark.postgres
def test_stream_crosses_processes_on_postgres(tmp_path, pg_url):
    """An API-only `hitl serve` streams a run that a separate `hitl worker` executes."""
    api = launch(tmp_path, graph="scripted_graph.py:graph", users=USERS, db=pg_url, extra_args=("--workers", "0"))
    alice, bob = sdk(api, "alice"), sdk(api, "bob")
    # no worker yet: a run stays queued, and a cancelled one never runs
    idle = new_thread(alice)
    queued = alice.runs.create(idle, "agent", input=ASK)
    assert queued["status"] == "pending" and alice.threads.get(idle)["status"] == "busy"
    assert alice.runs.cancel(idle, queued["run_id"])["status"] == "interrupted"
    worker = start_worker(tmp_path, pg_url, graph="scripted_graph.py:graph")
    try:
        thread = new_thread(alice)
        pause(alice, thread)
        parts = stream_parts(bob, thread, command={"resume": {"type": "approve"}}, stream_mode="updates")
        assert any(e == "updates" and "tools" in d for e, d in parts) and parts[-1][0] == "end"
        assert wait_until(lambda: "dave@example.com" in sent_to(api))
        joined = [(p.event, p.data) for p in alice.runs.join_stream(thread, parts[0][1]["run_id"], stream_mode="values")]
        assert [e for e, _ in joined] == ["metadata", "values", "end"]
        assert "dave@example.com" in joined[1][1]["messages"][-1]["content"]
        # a values chunk too large for NOTIFY (8000 bytes) is read from the checkpoint instead
        big = new_thread(alice)
        long = {"messages": [{"role": "user", "content": "x" * 9000}]}
        values = [d for e, d in stream_parts(alice, big, input=long, stream_mode="values") if e == "values"]
        assert values and values[-1]["messages"][-1]["content"] == "You said: " + "x" * 9000
        assert alice.runs.get(idle, queued["run_id"])["status"] == "interrupted"
        assert alice.threads.get_state(idle)["values"] == {} and sent_to(api) == ["dave@example.com"]
    finally:
        worker.terminate()
        worker.wait(10)
        api.stop()


PROJECT_GRAPH = """\
import os
from helper import build  # found through langgraph.json's dependencies

assert os.environ["HITL_PROJECT_MARK"] == "from-the-dotenv", "langgraph.json env was not applied"
graph = build()
"""
HELPER = """\
from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, build_workflow
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

def build():
    policy = ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {}}})
    tools = default_tools(LocalAgentConfig())
    return build_workflow(ScriptedChatModel(script=email_assistant_script), tools, policy=policy).compile()
"""


def test_serve_a_langgraph_project_as_it_is(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "graph.py").write_text(PROJECT_GRAPH)
    (project / "lib").mkdir()
    (project / "lib" / "helper.py").write_text(HELPER)
    (project / ".env").write_text("HITL_PROJECT_MARK=from-the-dotenv\n")
    config = {"graphs": {"email_agent": "./src/graph.py:graph"}, "env": ".env", "dependencies": [".", "./lib"]}
    (project / "langgraph.json").write_text(json.dumps(config))
    svc = launch(tmp_path, graph=None, users=USERS, extra_args=("--config", str(project / "langgraph.json")))
    try:
        alice, bob = sdk(svc, "alice"), sdk(svc, "bob")
        assert [a["graph_id"] for a in alice.assistants.search()] == ["email_agent"]
        thread = new_thread(alice)
        paused = alice.runs.wait(thread, "email_agent", input=ASK)
        assert paused["__interrupt__"][0]["value"]["name"] == "send_email" and sent_to(svc) == []
        bob.runs.wait(thread, "email_agent", command={"resume": {"type": "approve"}})
        assert sent_to(svc) == ["dave@example.com"]
        with pytest.raises(NotFoundError):
            alice.runs.create(thread, "agent", input=ASK)
    finally:
        svc.stop()
    # several graphs: one is picked with --graph-id, or the error says how
    config["graphs"]["other"] = "./src/graph.py:graph"
    (project / "langgraph.json").write_text(json.dumps(config))
    refused = subprocess.run([str(HITL), "serve", "--config", str(project / "langgraph.json"), "--db",
                              f"sqlite:///{tmp_path}/x.db"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "HITL_HOME": str(tmp_path)})
    assert refused.returncode == 2 and "--graph-id" in refused.stderr and "email_agent" in refused.stderr
