"""Every route × every role × no / wrong / revoked token, on one real server.

The routes come from the served OpenAPI document plus the two WebSocket routes, and the
test fails when a route has no expectation here, so a new route cannot slip in
unprotected. Two numbers matter: unauthorized successes (must be 0) and wrongful
denials (must be 0 too: the matrix also proves the rules let the right people through).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable

import httpx
import pytest
import websockets

from langgraph_ollama_local.server.langgraph_api.missing import MISSING
from tests.server.support import hitl, launch, wait_until

ROLES = {"root": ("admin",), "bob": ("approver",), "alice": ("requester",), "carol": ("finance",), "viewer": ()}
BAD = ("none", "wrong", "revoked")
ANY = frozenset(ROLES)
ADMIN = frozenset({"root"})
STARTERS = frozenset({"root", "alice"})  # policy access.start_roles: [requester, admin]
DECIDERS = frozenset({"bob"})  # the stage role is approver; alice (the requester) has none anyway
READERS = frozenset({"root", "alice", "bob"})  # of alice's threads: owner, the pending stage's role, admin

# (method, OpenAPI path, who may) — None means public.
EXPECT: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,  # readiness probes carry no credential; it says only whether the database answers
    ("GET", "/metrics"): ADMIN,
    ("POST", "/chat"): STARTERS,
    ("POST", "/approve"): DECIDERS,
    ("GET", "/threads"): ANY,
    ("GET", "/threads/{thread_id}/state"): READERS,
    ("POST", "/threads/{thread_id}/state"): ADMIN,
    ("POST", "/threads/{thread_id}/runs"): STARTERS,
    ("GET", "/runs/{run_id}"): READERS,
    ("GET", "/runs/{run_id}/wait"): READERS,
    ("GET", "/approvals"): ANY,
    ("GET", "/approvals/{request_id}"): READERS,
    ("POST", "/approvals/{request_id}/decision"): DECIDERS,
    ("GET", "/events"): ANY,
    ("GET", "/audit"): ADMIN,
    ("GET", "/audit/verify"): ADMIN,
    ("POST", "/auth/session"): ANY,
    ("GET", "/auth/me"): ANY,
    ("POST", "/auth/logout"): ANY,
    ("WS", "/ws/{thread_id}"): ANY,
    ("WS", "/events/ws"): ANY,
    ("GET", "/audit?thread_id"): READERS,  # one thread's trail: whoever may read the thread
    # LangGraph's server API (server/langgraph_api/)
    ("GET", "/ok"): ANY,
    ("GET", "/info"): ANY,
    ("POST", "/assistants/search"): ANY,
    ("GET", "/assistants/{assistant_id}"): ANY,
    ("GET", "/assistants/{assistant_id}/graph"): ANY,
    ("GET", "/assistants/{assistant_id}/schemas"): ANY,
    ("POST", "/threads"): STARTERS,
    ("POST", "/threads/search"): ANY,
    ("GET", "/threads/{thread_id}"): READERS,
    ("POST", "/threads/{thread_id}/history"): READERS,
    ("POST", "/threads/{thread_id}/runs/stream"): STARTERS,
    ("POST", "/threads/{thread_id}/runs/wait"): STARTERS,
    ("GET", "/threads/{thread_id}/runs"): READERS,
    ("GET", "/threads/{thread_id}/runs/{run_id}"): READERS,
    ("GET", "/threads/{thread_id}/runs/{run_id}/join"): READERS,
    ("GET", "/threads/{thread_id}/runs/{run_id}/stream"): READERS,
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"): STARTERS,
    ("POST", "/threads/{thread_id}/runs/wait?resume"): DECIDERS,  # a resume command is a decision
    ("PAGE", "/"): ANY,  # the web inbox: without a credential, a redirect to /login
    # LangGraph routes we do not implement: documented, 501 to anyone signed in, 401 to the rest
    **{(method, path): ANY for method, path, _ in MISSING},
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
    url = re.sub(r"\{\w+\}", "x", url)  # cron_id, namespace, checkpoint_id of the 501 routes
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
    if method != "POST":
        return client.request(method, url).status_code
    return client.post(url, json=bodies.get(url, dict)()).status_code


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


def test_auth_matrix(svc, shared_thread, capsys):
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


@pytest.fixture(scope="module")
def shared_thread(svc):
    item = pending_item(svc, "m-shared")
    SHARED.update({"thread": "m-shared", "item": item["id"]})
    runs = svc.client("root").get("/audit", params={"thread_id": "m-shared"}).json()
    SHARED["run"] = next(e["subject_id"] for e in runs if e["action"] == "run.created")


# -- whose thread: routes x credentials x own / other thread, event streams included ----------

WHO = {"alice": ("requester",), "dave": ("requester",), "bob": ("approver",), "carol": ("finance",),
       "viewer": (), "root": ("admin",), "auditor": ("auditor",), "monitor": ("monitor",)}
OPEN_POLICY = """\
access:
  self_approval: false
  read_roles: [auditor]
"""  # start_roles empty: everyone may start their own threads, so "own" exists for each


def readers(thread: str) -> frozenset[str]:
    """Who may read: owner, the role of an item pending in it, admin, access.read_roles."""
    owner = thread.split("-")[0]
    pending = {"bob"} if thread == "alice-t" else set()  # alice-t waits for the approver stage
    return frozenset({owner, "root", "auditor", *pending})


def writers(thread: str) -> frozenset[str]:
    return frozenset({thread.split("-")[0], "root"})


@pytest.fixture(scope="module")
def owned(tmp_path_factory):
    home = tmp_path_factory.mktemp("whose")
    service = launch(home, users=WHO, policy=OPEN_POLICY, env={"HITL_AUTH__DECISION_RATE": "1000/minute"})
    ctx = {"alice-t": pending_item(service, "alice-t")}
    dave = service.client("dave")
    run = dave.post("/threads/dave-t/runs", json={"message": "hello"}).json()
    assert dave.get(f"/runs/{run['id']}/wait", params={"seconds": 30}).json()["status"] == "succeeded"
    ctx["runs"] = {t: next(e["subject_id"] for e in service.client("root").get("/audit", params={"thread_id": t}).json()
                           if e["action"] == "run.created") for t in ("alice-t", "dave-t")}
    for who in WHO:  # everyone's own thread
        own = service.client(who).post("/threads/" + f"{who}-own/runs", json={"message": "hello"})
        assert own.status_code == 202, own.text
        service.client(who).get(f"/runs/{own.json()['id']}/wait", params={"seconds": 30})
    service.ctx = ctx
    yield service
    service.stop()


def test_whose_thread_matrix(owned, capsys):
    svc, leaks, wrong, cases = owned, [], [], 0
    item = svc.ctx["alice-t"]["id"]

    def check(who: str, label: str, status: int, allowed: bool) -> None:
        nonlocal cases
        cases += 1
        if not allowed and status < 400:
            leaks.append((label, who, status))
        if not allowed and status != 403:
            wrong.append((label, who, status, "expected 403"))
        if allowed and status in (401, 403):
            wrong.append((label, who, status, "expected success"))

    for who in WHO:
        c = svc.client(who)
        for thread in ("alice-t", "dave-t", f"{who}-own"):
            may_read = who in (readers(thread) if thread != f"{who}-own" else {who, "root", "auditor"})
            run = svc.ctx["runs"].get(thread)
            reads = [
                ("GET /threads/{id}/state", c.get(f"/threads/{thread}/state")),
                ("GET /approvals?thread_id", c.get("/approvals", params={"thread_id": thread})),
                ("GET /audit?thread_id", c.get("/audit", params={"thread_id": thread})),
            ]
            if thread != "alice-t":  # alice-t's item is checked below, left pending
                reads.append(("POST /approve", c.post("/approve", json={"thread_id": thread, "approved": False})))
            if run:
                reads.append(("GET /runs/{id}", c.get(f"/runs/{run}")))
                reads.append(("GET /runs/{id}/wait", c.get(f"/runs/{run}/wait", params={"seconds": 0.1})))
            for label, response in reads:
                check(who, f"{label} {thread}", response.status_code, may_read)
            ws = ws_status(svc, f"/ws/{thread}", svc.tokens[who])
            check(who, f"WS /ws/{thread}", ws, may_read)
            listed = {t["id"] for t in c.get("/threads", params={"limit": 500}).json()}
            check(who, f"GET /threads lists {thread}", 200 if thread in listed else 403, may_read)
        # writes go to dave's quiet thread (nothing pending there to disturb) and to one's own
        for thread in ("dave-t", f"{who}-own"):
            may_write = who in writers(thread) or thread == f"{who}-own"
            check(who, f"POST /threads/{thread}/runs", c.post(f"/threads/{thread}/runs", json={"message": "hi"}).status_code, may_write)
            check(who, f"POST /chat {thread}", c.post("/chat", json={"thread_id": thread, "message": "hi"}).status_code, may_write)
            check(who, f"POST /threads/{thread}/state", c.post(f"/threads/{thread}/state", json={"values": {}}).status_code,
                  who == "root")
        # alice's pending item: reading it, and a decision that passes authorization only for
        # those who may decide (an `answer` does not fit a tool approval: 422, nothing stored)
        check(who, "GET /approvals/{id} alice-t", c.get(f"/approvals/{item}").status_code, who in readers("alice-t"))
        check(who, "POST /approvals/{id}/decision alice-t",
              c.post(f"/approvals/{item}/decision", json={"type": "answer", "value": 1}).status_code, who == "bob")
        listing = c.get("/approvals", params={"status": "all", "limit": 500}).json()["items"]
        seen = {i["thread_id"] for i in listing}
        for thread in seen - {t for t in ("alice-t", "dave-t") if who in readers(t)} - {f"{who}-own"}:
            leaks.append(("GET /approvals lists", who, thread))
        if who in readers("alice-t"):
            check(who, "GET /approvals lists alice-t", 200 if "alice-t" in seen else 403, True)
        metrics = c.get("/metrics").status_code
        check(who, "GET /metrics", metrics, who in {"root", "monitor"})
    with capsys.disabled():
        print(f"\nwhose-thread matrix: {cases} cases ({len(WHO)} credentials x own / other threads), "
              f"unauthorized successes: {len(leaks)}, wrong statuses: {len(wrong)}")
    assert leaks == []
    assert wrong == []
    assert (svc.client("root").get(f"/approvals/{item}").json()["status"]) == "pending"


async def _subscribe(svc, who: str, kind: str, seen: list[dict], ready: asyncio.Event, stop: asyncio.Event) -> None:
    """Collect every event one subscriber is sent until `stop`."""
    headers = {"Authorization": f"Bearer {svc.tokens[who]}"}
    if kind == "ws":
        async with websockets.connect(svc.base.replace("http", "ws") + "/events/ws", additional_headers=headers) as ws:
            ready.set()
            while not stop.is_set():
                try:
                    seen.append(json.loads(await asyncio.wait_for(ws.recv(), 0.2)))
                except TimeoutError:
                    continue
        return
    async with httpx.AsyncClient(base_url=svc.base, headers=headers, timeout=None) as client, \
            client.stream("GET", "/events") as response:
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "ready":
                    ready.set()
            elif line.startswith("data: ") and event not in (None, "ready"):
                seen.append(json.loads(line[6:]))
            if stop.is_set():
                return


def _thread_of(event: dict) -> str | None:
    return event.get("thread_id") or (event.get("approval") or {}).get("thread_id")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_event_streams_carry_only_readable_threads(backend, tmp_path, request):
    """/events and /events/ws, per subscriber; on PostgreSQL the subscribers sit on a second,
    API-only process, so every event they get crossed processes (LISTEN/NOTIFY)."""
    db = request.getfixturevalue("pg_url") if backend == "postgres" else None
    origin = launch(tmp_path, users=WHO, policy=OPEN_POLICY, db=db)
    edge = (launch(tmp_path, users=WHO, policy=OPEN_POLICY, db=db, tokens=origin.tokens, extra_args=("--workers", "0"))
            if db else origin)
    try:
        asyncio.run(_streams(origin, edge))
    finally:
        if edge is not origin:
            edge.stop()
        origin.stop()


async def _streams(origin, edge) -> None:
    stop = asyncio.Event()
    subs = {(who, kind): ([], asyncio.Event()) for who in WHO for kind in ("sse", "ws")}
    tasks = [asyncio.create_task(_subscribe(edge, who, kind, seen, ready, stop)) for (who, kind), (seen, ready) in subs.items()]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for _, ready in subs.values())), 30)

    async def call(svc, who: str, method: str, url: str, **kw) -> httpx.Response:
        async with httpx.AsyncClient(base_url=svc.base, headers={"Authorization": f"Bearer {svc.tokens[who]}"}, timeout=60) as c:
            return await c.request(method, url, **kw)

    # dave's email: its arguments must reach only dave, the approvers of its stage, admin and auditors
    run = (await call(origin, "dave", "POST", "/threads/dave-live/runs", json={"message": "Send email to secret@example.com"})).json()
    assert (await call(origin, "dave", "GET", f"/runs/{run['id']}/wait", params={"seconds": 30})).json()["status"] == "paused"
    root_sse = subs[("root", "sse")][0]
    for _ in range(600):  # until the admin's stream has it all (a bound, not a timing assert)
        if any(e["type"] == "run.paused" and _thread_of(e) == "dave-live" for e in root_sse) and any(
                e["type"] == "approval.requested" and _thread_of(e) == "dave-live" for e in root_sse):
            break
        await asyncio.sleep(0.05)
    # then each subscriber's own sentinel: a stream delivers in order, so once a subscriber has
    # its sentinel's end it has been handed (or refused) every event of dave's thread
    for who in WHO:
        sentinel = (await call(edge, who, "POST", f"/threads/sentinel-{who}/runs", json={"message": "hello"})).json()
        await call(edge, who, "GET", f"/runs/{sentinel['id']}/wait", params={"seconds": 30})
    for _ in range(600):
        if all(any(e["type"] == "run.succeeded" and _thread_of(e) == f"sentinel-{who}" for e in seen)
               for (who, _kind), (seen, _) in subs.items()):
            break
        await asyncio.sleep(0.05)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    leaks, missing = [], []
    for (who, kind), (seen, _) in subs.items():
        threads = {_thread_of(e) for e in seen}
        if not any(e["type"] == "run.succeeded" and _thread_of(e) == f"sentinel-{who}" for e in seen):
            missing.append((who, kind, "own sentinel"))
        may = {f"sentinel-{who}"} | ({f"sentinel-{w}" for w in WHO} if who in ("root", "auditor") else set())
        if who in ("dave", "root", "auditor", "bob"):  # bob: the stage's role, once the item is pending
            may.add("dave-live")
            if not any(e["type"] == "approval.requested" and _thread_of(e) == "dave-live" for e in seen):
                missing.append((who, kind, "dave's approval.requested"))
        leaks += [(who, kind, t) for t in threads - may]
        leaks += [(who, kind, "secret") for e in seen if "secret@example.com" in json.dumps(e) and who not in
                  ("dave", "root", "auditor", "bob")]
    print(f"\nevent streams: {len(subs)} subscribers, leaked: {len(leaks)}, missing: {len(missing)}")
    assert leaks == []
    assert missing == []
