"""`hitl serve` for real: a uvicorn process on loopback, driven over HTTP, SSE and WebSocket."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

HERE = Path(__file__).parent
TESTER_ROLES = ("admin", "approver", "manager")
_clients: dict[str, httpx.Client] = {}


def issue_token(db_url: str, user: str = "tester", roles: tuple[str, ...] = TESTER_ROLES, home: Path | None = None) -> str:
    """A real API token, made the way an admin makes one: `hitl tokens create`."""
    hitl = Path(sys.executable).with_name("hitl")
    args = [str(hitl), "tokens", "create", user, "--db", db_url, "--quiet"]
    for role in roles:
        args += ["--role", role]
    env = {**os.environ, **({"HITL_HOME": str(home)} if home else {})}
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip()


def api(base: str) -> httpx.Client:
    """The authenticated client of the server at `base` (made by `spawn`/`start_server`)."""
    return _clients[base]


def remember(base: str, token: str) -> httpx.Client:
    _clients[base] = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return _clients[base]


class Server:
    def __init__(self, base: str, home: Path, db: Path, proc: subprocess.Popen[str], token: str) -> None:
        self.base, self.home, self.db, self.proc = base, home, db, proc
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(base_url=base, timeout=30, headers=self.headers)

    def outbox(self) -> list[str]:
        return sorted(str(message_from_bytes(p.read_bytes())["To"]) for p in (self.home / "outbox").glob("*.eml"))


def start_server(home: Path, db: Path) -> Server:
    token = issue_token(f"sqlite:///{db}", home=home)
    port = free_port()
    env = {**os.environ, "HITL_HOME": str(home)}
    hitl = Path(sys.executable).with_name("hitl")
    proc = subprocess.Popen(
        [str(hitl), "serve", "--port", str(port), "--db", f"sqlite:///{db}", "--graph", f"{HERE / 'scripted_graph.py'}:graph"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # CI machines are busy
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return Server(base, home, db, proc, token)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    server.proc.wait(10)


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    srv = start_server(tmp_path, tmp_path / "hitl.db")
    yield srv
    stop_server(srv)


def test_spec_chat_and_approve(server):
    reply = server.http.post("/chat", json={"thread_id": "t1", "message": "Send email to alice@example.com"}).json()
    assert reply["pending_approval"] is True
    assert reply["pending_action"]["tool"] == "send_email" and reply["pending_action"]["args"]["to"] == "alice@example.com"
    assert server.outbox() == []
    done = server.http.post("/approve", json={"thread_id": "t1", "approved": True}).json()
    assert done["pending_approval"] is False and "alice@example.com" in done["response"]
    assert server.outbox() == ["alice@example.com"]
    # Nothing left to approve: a clear 409, nothing changes.
    again = server.http.post("/approve", json={"thread_id": "t1", "approved": True})
    assert again.status_code == 409 and "no pending action" in again.json()["detail"]


def test_inbox_live_stream_and_decisions(server):
    events: list[dict] = []

    def listen() -> None:
        with httpx.stream("GET", f"{server.base}/events", timeout=30, headers=server.headers) as response:
            for line in response.iter_lines():
                if line.startswith("data:") and line != "data: {}":
                    events.append(json.loads(line[5:]))
                    if any(e["type"] == "approval.requested" for e in events):
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(0.5)
    run = server.http.post("/threads/t2/runs", json={"message": "Send email to bob@example.com"})
    assert run.status_code == 202
    waited = server.http.get(f"/runs/{run.json()['id']}/wait", params={"seconds": 30}).json()
    assert waited["status"] == "paused"
    listener.join(10)
    requested = next(e for e in events if e["type"] == "approval.requested")
    inbox = server.http.get("/approvals", params={"thread_id": "t2"}).json()
    assert inbox["total"] == 1 and inbox["total_is_exact"] is True
    capped = server.http.get("/approvals", params={"thread_id": "t2", "count": "capped"}).json()
    assert (capped["total"], capped["total_is_exact"]) == (1, True)  # below the cap the count is exact
    assert server.http.get("/approvals", params={"count": "approx"}).status_code == 422
    item = inbox["items"][0]
    assert requested["approval"]["id"] == item["id"]

    # bad inputs: clear 4xx, nothing stored
    assert server.http.get("/approvals/nope").status_code == 404
    bad_edit = server.http.post(f"/approvals/{item['id']}/decision", json={"type": "edit", "args": {"to": 1}})
    assert bad_edit.status_code == 422
    assert server.http.post(f"/approvals/{item['id']}/decision", json={"type": "maybe"}).status_code == 422
    assert server.http.post(f"/approvals/{item['id']}/decision", content=b"{not json").status_code == 422
    assert server.http.get(f"/approvals/{item['id']}").json()["status"] == "pending"

    args = {"to": "carol@example.com", "subject": "Hi", "body": "edited"}
    decided = server.http.post(f"/approvals/{item['id']}/decision", json={"type": "edit", "args": args})
    assert decided.status_code == 200 and decided.json()["status"] == "edited"
    conflict = server.http.post(f"/approvals/{item['id']}/decision", json={"type": "approve"})
    assert conflict.status_code == 409
    for _ in range(100):
        if server.outbox():
            break
        time.sleep(0.05)
    assert server.outbox() == ["carol@example.com"]
    state = server.http.get("/threads/t2/state").json()
    assert state["next"] == [] and state["values"]["messages"][1]["data"]["tool_calls"][0]["args"] == args


def test_reject_and_respond_and_websocket(server):
    import asyncio

    import websockets

    async def ws_flow() -> list[dict]:
        url = server.base.replace("http", "ws") + "/ws/t3"
        async with websockets.connect(url, additional_headers=server.headers) as ws:
            await ws.send(json.dumps({"type": "message", "content": "Send email to dave@example.com"}))
            first = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "approve", "approved": False}))
            second = json.loads(await ws.recv())
            return [first, second]

    first, second = asyncio.run(ws_flow())
    assert first["type"] == "response" and first["pending_approval"] is True
    assert second == {"type": "cancelled", "content": "Action cancelled"}
    assert server.outbox() == []
    assert server.http.get("/threads/nope/state").status_code == 404


def test_metrics_and_audit_verify_detects_tampering(server):
    server.http.post("/chat", json={"thread_id": "t4", "message": "Send email to erin@example.com"})
    server.http.post("/approve", json={"thread_id": "t4", "approved": True})
    metrics = server.http.get("/metrics").text
    assert 'hitl_decisions_total{outcome="approved"} 1.0' in metrics
    assert "hitl_approval_latency_seconds_bucket" in metrics and "hitl_pending_approvals 0.0" in metrics
    assert server.http.get("/audit/verify").json()["ok"] is True
    assert any(e["action"] == "approval.decided" for e in server.http.get("/audit").json())
    assert server.http.get("/openapi.json").json()["paths"]["/approvals/{request_id}/decision"]
    stop_server(server)
    hitl = Path(sys.executable).with_name("hitl")
    env = {**os.environ, "HITL_HOME": str(server.home)}  # the audit key lives there
    ok = subprocess.run([str(hitl), "audit", "verify", "--db", f"sqlite:///{server.db}"], capture_output=True, text=True,
                        env=env)
    assert ok.returncode == 0 and "intact" in ok.stdout
    with sqlite3.connect(server.db) as conn:
        conn.execute("UPDATE hitl_audit_log SET actor = 'mallory' WHERE action = 'approval.decided'")
    bad = subprocess.run([str(hitl), "audit", "verify", "--db", f"sqlite:///{server.db}"], capture_output=True, text=True,
                         env=env)
    assert bad.returncode == 1 and "tampered" in bad.stdout and "edited" in bad.stdout


def test_deadline_survives_a_server_restart(tmp_path):
    graph_file = tmp_path / "timed_graph.py"
    graph_file.write_text((HERE / "scripted_graph.py").read_text().replace(
        '"allowed_decisions": ["approve", "edit", "reject", "respond"]',
        '"stages": [{"role": "manager", "timeout_seconds": 2}]'))
    db = tmp_path / "hitl.db"
    port = free_port()
    remember(f"http://127.0.0.1:{port}", issue_token(f"sqlite:///{db}", home=tmp_path))
    env = {**os.environ, "HITL_HOME": str(tmp_path)}
    hitl = Path(sys.executable).with_name("hitl")
    args = [str(hitl), "serve", "--port", str(port), "--db", f"sqlite:///{db}", "--graph", f"{graph_file}:graph"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base) and time.monotonic() < deadline:
            time.sleep(0.1)
        reply = api(base).post(f"{base}/chat", json={"thread_id": "slow", "message": "Send email to frank@example.com"}, timeout=30).json()
        assert reply["pending_approval"] is True
    finally:
        proc.kill()  # the server dies with the approval pending
        proc.wait()
    time.sleep(2.5)  # the deadline passes while no server runs
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status = None
        for _ in range(600):
            try:
                items = api(base).get(f"{base}/approvals", params={"status": "all"}, timeout=1).json()["items"]
                status = items[0]["status"]
                if status != "pending":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert status == "expired"
        assert items[0]["decided_by"] == "system:deadline"
        assert not list((tmp_path / "outbox").glob("*.eml"))
    finally:
        proc.terminate()
        proc.wait(10)


def spawn(home: Path, db: str, graph: str) -> tuple[subprocess.Popen[str], str]:
    """Start `hitl serve` and wait (up to 60 s: CI machines are busy) until it is healthy."""
    token = issue_token(db, home=home)
    port = free_port()
    hitl = Path(sys.executable).with_name("hitl")
    log = open(home / f"serve-{port}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(hitl), "serve", "--port", str(port), "--db", db, "--graph", graph],
        env={**os.environ, "HITL_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _healthy(base):
            remember(base, token)
            return proc, base
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"hitl serve did not become healthy:\n{(home / f'serve-{port}.log').read_text()}")


def wait_for(predicate, tries: int = 200):
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


@pytest.mark.postgres
def test_service_on_postgresql(tmp_path, pg_url):
    proc, base = spawn(tmp_path, pg_url, f"{HERE / 'scripted_graph.py'}:graph")
    try:
        reply = api(base).post(f"{base}/chat", json={"thread_id": "pg", "message": "Send email to pg@example.com"}, timeout=30).json()
        assert reply["pending_approval"] is True
        item = api(base).get(f"{base}/approvals").json()["items"][0]
        api(base).post(f"{base}/approvals/{item['id']}/decision", json={"type": "approve"}, timeout=30)
        assert wait_for(lambda: list((tmp_path / "outbox").glob("*.eml")))
        assert api(base).get(f"{base}/audit/verify").json()["ok"] is True
    finally:
        proc.terminate()
        proc.wait(10)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_any_graph_langchain_batched_hitl(tmp_path):
    """LangChain's batched HITL payload becomes one inbox item per action; decisions go
    back as {"decisions": [...]} keyed by action, never by arrival order."""
    proc, base = spawn(tmp_path, f"sqlite:///{tmp_path}/h.db", f"{HERE / 'langchain_hitl_graph.py'}:graph")
    try:
        reply = api(base).post(f"{base}/chat", json={"thread_id": "lc", "message": "do both"}, timeout=30).json()
        assert reply["pending_approval"] is True
        items = api(base).get(f"{base}/approvals", params={"thread_id": "lc"}).json()["items"]
        by_tool = {i["tool"]: i for i in items}
        assert set(by_tool) == {"send_email", "delete_file"} and {i["kind"] for i in items} == {"batched_action"}
        # Decide in reverse order: each decision must still land on its own action.
        api(base).post(f"{base}/approvals/{by_tool['delete_file']['id']}/decision", json={"type": "reject", "reason": "keep it"})
        assert not (tmp_path / "sent.log").exists()  # one action still undecided: nothing resumes
        api(base).post(f"{base}/approvals/{by_tool['send_email']['id']}/decision", json={"type": "approve"})
        log = wait_for(lambda: (tmp_path / "sent.log").exists() and (tmp_path / "sent.log").read_text())
        assert log == "a@example.com\n"  # the email went out; the file was NOT deleted
    finally:
        proc.terminate()
        proc.wait(10)


def test_generic_question_and_state_update(tmp_path):
    proc, base = spawn(tmp_path, f"sqlite:///{tmp_path}/q.db", f"{HERE / 'question_graph.py'}:graph")
    try:
        reply = api(base).post(f"{base}/chat", json={"thread_id": "q", "message": "go"}, timeout=30).json()
        item = reply["pending_action"]
        assert item["kind"] == "question" and item["description"] == "Should I proceed?"
        bad = api(base).post(f"{base}/approvals/{item['id']}/decision", json={"type": "answer", "value": "perhaps"})
        assert bad.status_code == 422  # the question's choices are enforced before anything is stored
        ok = api(base).post(f"{base}/approvals/{item['id']}/decision", json={"type": "answer", "value": "no"})
        assert ok.status_code == 200 and ok.json()["status"] == "answered"
        assert wait_for(lambda: api(base).get(f"{base}/threads/q/state").json()["next"] == [])
        state = api(base).get(f"{base}/threads/q/state").json()
        assert state["values"]["messages"][-1]["data"]["content"] == "Okay, I won't proceed."
        note = {"type": "ai", "data": {"content": "A note added by an operator.", "type": "ai"}}
        upd = api(base).post(f"{base}/threads/q/state", json={"values": {"messages": [note]}, "as_node": "confirm"})
        assert upd.status_code == 200
        assert api(base).get(f"{base}/threads/q/state").json()["values"]["messages"][-1]["data"]["content"] == note["data"]["content"]
        assert api(base).post(f"{base}/threads/q/state", json={"values": {"messages": [{"bad": 1}]}}).status_code == 422
        assert any(e["action"] == "thread.state_updated" for e in api(base).get(f"{base}/audit").json())
    finally:
        proc.terminate()
        proc.wait(10)
