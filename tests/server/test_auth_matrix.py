"""Every route × every role × no / wrong / revoked token, on one real server.

The routes come from the served OpenAPI document plus the two WebSocket routes, and the
test fails when a route has no expectation here, so a new route cannot slip in
unprotected. Two numbers matter: unauthorized successes (must be 0) and wrongful
denials (must be 0 too: the matrix also proves the rules let the right people through).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
import websockets

from tests.server.support import hitl, launch, wait_until

ROLES = {"root": ("admin",), "bob": ("approver",), "alice": ("requester",), "carol": ("finance",), "viewer": ()}
BAD = ("none", "wrong", "revoked")
ANY = frozenset(ROLES)
ADMIN = frozenset({"root"})
STARTERS = frozenset({"root", "alice"})  # policy access.start_roles: [requester, admin]
DECIDERS = frozenset({"bob"})  # the stage role is approver; alice (the requester) has none anyway

# (method, OpenAPI path, who may) — None means public.
EXPECT: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/healthz"): None,
    ("GET", "/metrics"): ADMIN,
    ("POST", "/chat"): STARTERS,
    ("POST", "/approve"): DECIDERS,
    ("GET", "/threads"): ANY,
    ("GET", "/threads/{thread_id}/state"): ANY,
    ("POST", "/threads/{thread_id}/state"): ADMIN,
    ("POST", "/threads/{thread_id}/runs"): STARTERS,
    ("GET", "/runs/{run_id}"): ANY,
    ("GET", "/runs/{run_id}/wait"): ANY,
    ("GET", "/approvals"): ANY,
    ("GET", "/approvals/{request_id}"): ANY,
    ("POST", "/approvals/{request_id}/decision"): DECIDERS,
    ("GET", "/events"): ANY,
    ("GET", "/audit"): ADMIN,
    ("GET", "/audit/verify"): ADMIN,
    ("POST", "/auth/session"): ANY,
    ("GET", "/auth/me"): ANY,
    ("POST", "/auth/logout"): ANY,
    ("WS", "/ws/{thread_id}"): ANY,
    ("WS", "/events/ws"): ANY,
    # LangGraph's server API (server/langgraph_api/)
    ("GET", "/ok"): ANY,
    ("GET", "/info"): ANY,
    ("POST", "/assistants/search"): ANY,
    ("GET", "/assistants/{assistant_id}"): ANY,
    ("GET", "/assistants/{assistant_id}/graph"): ANY,
    ("GET", "/assistants/{assistant_id}/schemas"): ANY,
    ("POST", "/threads"): STARTERS,
    ("POST", "/threads/search"): ANY,
    ("GET", "/threads/{thread_id}"): ANY,
    ("POST", "/threads/{thread_id}/history"): ANY,
    ("POST", "/threads/{thread_id}/runs/stream"): STARTERS,
    ("POST", "/threads/{thread_id}/runs/wait"): STARTERS,
    ("GET", "/threads/{thread_id}/runs"): ANY,
    ("GET", "/threads/{thread_id}/runs/{run_id}"): ANY,
    ("GET", "/threads/{thread_id}/runs/{run_id}/join"): ANY,
    ("GET", "/threads/{thread_id}/runs/{run_id}/stream"): ANY,
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"): STARTERS,
    ("POST", "/threads/{thread_id}/runs/wait?resume"): DECIDERS,  # a resume command is a decision
    ("GET", "/audit?thread_id"): ANY,  # one thread's trail: anyone signed in
    ("PAGE", "/"): ANY,  # the web inbox: without a credential, a redirect to /login
}


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    home = tmp_path_factory.mktemp("matrix")
    service = launch(home, users={**ROLES, "gone": ("admin", "approver", "requester")},
                     env={"HITL_AUTH__DECISION_RATE": "1000/minute"})
    listed = json.loads(hitl("tokens", "list", "--db", service.db, "--json", home=home).stdout)
    hitl("tokens", "revoke", next(t["id"] for t in listed if t["user"] == "gone"), "--db", service.db, home=home)
    service.tokens["revoked"] = service.tokens.pop("gone")
    service.tokens["wrong"] = "hitl_0123456789ab_" + "x" * 43
    yield service
    service.stop()


def pending_item(svc, thread: str) -> dict:
    alice = svc.client("alice")
    run = alice.post(f"/threads/{thread}/runs", json={"message": f"Send email to {thread}@example.com"}).json()
    alice.get(f"/runs/{run['id']}/wait", params={"seconds": 30})
    return wait_until(lambda: alice.get("/approvals", params={"thread_id": thread}).json()["items"])[0]


def call(svc, method: str, path: str, who: str, ctx: dict) -> int:
    token = None if who == "none" else svc.tokens[who]
    client = svc.client(token=token)
    login_token = token or "hitl_0123456789ab_" + "y" * 43
    if method == "PAGE":
        status = client.get(path, follow_redirects=False).status_code
        return 401 if status == 303 else status  # 303 -> /login is the page's way of saying 401
    if method == "WS":
        return ws_status(svc, path.replace("{thread_id}", "wsm"), token)
    if path == "/events":
        with client.stream("GET", "/events") as response:
            return response.status_code
    url = (path.replace("{thread_id}", ctx["thread"]).replace("{run_id}", ctx["run"])
           .replace("{request_id}", ctx["item"]).replace("{assistant_id}", "agent"))
    lg_run = {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hello"}]}}
    bodies: dict[str, Callable[[], dict]] = {
        "/chat": lambda: {"thread_id": f"chat-{who}", "message": "hello"},
        "/approve": lambda: {"thread_id": ctx["thread"], "approved": True},
        f"/threads/{ctx['thread']}/state": lambda: {"values": {}},
        f"/threads/{ctx['thread']}/runs": lambda: {"message": "hello"},
        "/assistants/search": dict,
        "/threads": dict,
        "/threads/search": dict,
        f"/threads/{ctx['thread']}/history": dict,
        f"/threads/{ctx['thread']}/runs/stream": lambda: lg_run,
        f"/threads/{ctx['thread']}/runs/wait": lambda: lg_run,
        f"/threads/{ctx['thread']}/runs/{ctx['run']}/cancel": dict,
        f"/approvals/{ctx['item']}/decision": lambda: {"type": "approve"},
        "/auth/session": lambda: {"token": login_token},
        "/auth/logout": dict,
    }
    if url.endswith("/runs/wait?resume"):
        resume = {"assistant_id": "agent", "command": {"resume": {"type": "approve"}}}
        return client.post(url.removesuffix("?resume"), json=resume).status_code
    if url == "/audit?thread_id":
        return client.get("/audit", params={"thread_id": ctx["thread"]}).status_code
    if url == f"/runs/{ctx['run']}/wait":
        return client.get(url, params={"seconds": 0.1}).status_code
    if method == "GET":
        return client.get(url).status_code
    return client.post(url, json=bodies[url]()).status_code


def ws_status(svc, path: str, token: str | None) -> int:
    url = svc.base.replace("http", "ws") + path

    async def attempt() -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                if path.startswith("/ws/"):
                    await ws.send(json.dumps({"type": "nonsense"}))
                    await asyncio.wait_for(ws.recv(), 10)
                else:
                    await asyncio.sleep(0.2)
                    await ws.ping()
                return 200
        except websockets.exceptions.ConnectionClosed as exc:
            return 401 if exc.rcvd and exc.rcvd.code == 4401 else 403
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(attempt())


def test_auth_matrix(svc, capsys):
    served = {(m.upper(), p) for p, ops in httpx.get(f"{svc.base}/openapi.json").json()["paths"].items() for m in ops}
    assert served - set(EXPECT) == set(), "a served route has no expectation in the auth matrix"

    unauthorized_successes, wrongful_denials, cases = [], [], 0
    for (method, path), allowed in EXPECT.items():
        for who in (*BAD, *ROLES):
            # decisions consume their item: give every caller a fresh pending one
            thread = f"m{cases}"
            item = pending_item(svc, thread) if (method, path) in DECISIONS else None
            ctx = {"thread": thread if item else "m-shared", "item": item["id"] if item else "none", "run": "none"}
            if item is None:
                ctx.update(SHARED)
            status = call(svc, method, path, who, ctx)
            cases += 1
            may = allowed is None or who in allowed
            if not may and status < 400:
                unauthorized_successes.append((method, path, who, status))
            expected_denial = 401 if who in BAD else 403
            if not may and status != expected_denial:
                wrongful_denials.append((method, path, who, status, f"expected {expected_denial}"))
            if may and status in (401, 403):
                wrongful_denials.append((method, path, who, status, "expected success"))
    with capsys.disabled():
        print(f"\nauth matrix: {cases} cases ({len(EXPECT)} routes x {len(BAD) + len(ROLES)} credentials), "
              f"unauthorized successes: {len(unauthorized_successes)}, wrong statuses: {len(wrongful_denials)}")
    assert unauthorized_successes == []
    assert wrongful_denials == []
    # bob's three allowed decisions moved their calls on to the finance stage; every refused
    # decision left its item pending; nothing was sent (nobody in the matrix holds both stages)
    finance = lambda: svc.client("root").get("/approvals", params={"role": "finance"}).json()["total"]  # noqa: E731
    assert wait_until(lambda: finance() == 3) and finance() == 3
    assert svc.outbox() == []


SHARED: dict[str, str] = {}
DECISIONS = {("POST", "/approve"), ("POST", "/approvals/{request_id}/decision"),
             ("POST", "/threads/{thread_id}/runs/wait?resume")}


@pytest.fixture(scope="module", autouse=True)
def shared_thread(svc):
    item = pending_item(svc, "m-shared")
    SHARED.update({"thread": "m-shared", "item": item["id"]})
    runs = svc.client("root").get("/audit", params={"thread_id": "m-shared"}).json()
    SHARED["run"] = next(e["subject_id"] for e in runs if e["action"] == "run.created")
