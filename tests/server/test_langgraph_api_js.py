"""LangGraph's JS client (`@langchain/langgraph-sdk` from npm, tests/server/js/) against a real
`hitl serve` on SQLite and PostgreSQL: the same approval cycle as the Python client's test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server.support import launch
from tests.server.test_langgraph_api import USERS, pg_db  # noqa: F401 - the module's database fixture

JS = Path(__file__).parent / "js"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_js_client_full_cycle(backend, tmp_path, request):
    node = shutil.which("node")
    assert node, "Node.js is needed for the JS client test"
    assert (JS / "node_modules" / "@langchain" / "langgraph-sdk").is_dir(), (
        "run scripts/install.sh (it installs @langchain/langgraph-sdk into tests/server/js)")
    db = request.getfixturevalue("pg_db") if backend == "postgres" else None
    svc = launch(tmp_path, graph="scripted_graph.py:graph", users=USERS, db=db,
                 env={"HITL_AUTH__DECISION_RATE": "1000/minute"})
    try:
        env = {**os.environ, "HITL_URL": svc.base, "ALICE": svc.tokens["alice"], "BOB": svc.tokens["bob"],
               "CAROL": svc.tokens["carol"]}
        done = subprocess.run([node, str(JS / "hitl_cycle.mjs")], capture_output=True, text=True, env=env,
                              timeout=300, cwd=JS)
        assert done.returncode == 0, done.stderr[-4000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        svc.stop()
    assert seen["assistant"] == "agent"
    assert seen["firstEvents"][0] == "metadata" and seen["firstEvents"][-1] == "end"
    assert seen["interrupt"]["value"]["name"] == "send_email" and seen["valuesInterrupt"] == seen["interrupt"]["id"]
    assert seen["interrupted"] is True
    assert seen["aliceResume"] == 403  # the requester has no approver role
    assert "js@example.com" in seen["toolResult"] and seen["lastEvent"] == "end" and seen["statusAfter"] == "idle"
    assert "edited@example.com" in seen["edited"]
    assert any("not today" in c for c in seen["rejected"])
    assert seen["ownResume"] == 403 and seen["ownRuns"] == 1
    assert seen["breakpointNext"] == ["tools"]
