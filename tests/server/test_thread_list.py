"""`GET /threads`: each listed thread's status, last update and pending count, the optional
`status` filter (LangGraph's thread statuses), all cut to the threads the caller may read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.support import STRICT_POLICY, Service, launch, wait_until

GRAPH = Path(__file__).parents[1] / "web" / "web_graph.py"
USERS = {"ann": ("requester",), "bob": ("requester",), "root": ("admin",)}


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    service = launch(tmp_path, graph=f"{GRAPH}:graph", policy=STRICT_POLICY, users=USERS)
    yield service
    service.stop()


def listed(svc: Service, user: str, **params: str) -> dict[str, dict]:
    response = svc.client(user).get("/threads", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return {t["id"]: t for t in response.json()}


def test_threads_carry_status_and_filter_by_it_within_what_one_may_read(svc):
    for thread, message in [("ann-paused", "Send email to a@example.com and b@example.com"),
                            ("ann-done", "hello"), ("ann-broken", "crash now"), ("bob-done", "hi")]:
        who = thread.split("-")[0]
        assert svc.client(who).post(f"/threads/{thread}/runs", json={"message": message}).status_code == 202
    statuses = {"ann-paused": "interrupted", "ann-done": "idle", "ann-broken": "error", "bob-done": "idle"}
    assert wait_until(lambda: {k: v["status"] for k, v in listed(svc, "root").items()} == statuses, 30)

    mine = listed(svc, "ann")
    assert sorted(mine) == ["ann-broken", "ann-done", "ann-paused"]  # never bob's
    paused = mine["ann-paused"]
    waiting = svc.client("ann").get("/approvals", params={"thread_id": "ann-paused"}).json()["total"]
    assert paused["pending"] == waiting >= 1 and mine["ann-done"]["pending"] == 0  # what GET /approvals counts
    assert paused["updated_at"] >= paused["created_at"]
    assert {"id", "created_at", "created_by", "owner", "title", "meta"} <= set(paused)  # the old fields stay

    assert sorted(listed(svc, "ann", status="interrupted")) == ["ann-paused"]
    assert sorted(listed(svc, "ann", status="idle")) == ["ann-done"]
    assert sorted(listed(svc, "ann", status="error")) == ["ann-broken"]
    assert listed(svc, "ann", status="busy") == {}
    assert sorted(listed(svc, "bob", status="idle")) == ["bob-done"]
    assert listed(svc, "bob", status="interrupted") == {}
    assert sorted(listed(svc, "root", status="idle")) == ["ann-done", "bob-done"]  # admin reads all
    bad = svc.client("ann").get("/threads", params={"status": "running"})  # LangGraph says busy
    assert bad.status_code == 422
