"""A real `hitl serve` on a PostgreSQL cluster this test stops and starts again.

During the outage every store route answers 503 JSON with `Retry-After` (not a plain
500), a decision says whether it was stored, `/healthz` (liveness) stays 200 and
`/readyz` (the database) says 503; when the database is back everything answers again.
"""

from __future__ import annotations

import pytest

from tests.runtime.private_postgres import PrivatePostgres
from tests.server.support import launch

pytestmark = pytest.mark.postgres


def test_an_outage_answers_503_json_with_retry_after_and_says_whether_the_decision_was_stored(tmp_path):
    server = PrivatePostgres()
    service = None
    try:
        service = launch(tmp_path, graph="scripted_graph.py:graph", users={"root": ("admin", "approver")},
                         policy=None, db=server.url)
        client = service.client("root")
        reply = client.post("/chat", json={"thread_id": "t", "message": "Send email to frank@example.com"})
        item = reply.json()["pending_action"]
        assert client.get("/readyz").json() == {"status": "ready"}

        server.stop("fast")
        for path in ("/approvals", f"/approvals/{item['id']}", "/threads"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["Retry-After"] == "2" and "database is unavailable" in answer.json()["detail"]
        decision = client.post(f"/approvals/{item['id']}/decision", json={"type": "approve"})
        assert decision.status_code == 503 and decision.json()["decision_stored"] is False, decision.text
        assert "send it again" in decision.json()["detail"]
        assert client.get("/healthz").status_code == 200  # the process is alive
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"

        server.start()
        for _ in range(100):  # the pools reconnect on their own
            if client.get("/readyz").status_code == 200:
                break
        decided = client.post(f"/approvals/{item['id']}/decision", json={"type": "approve"})
        assert decided.status_code == 200, decided.text
    finally:
        if service is not None:
            service.stop()
        server.destroy()
