"""`hitl prune` and doctor's checkpoint row, on real SQLite and PostgreSQL."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from langgraph_ollama_local.cli.app import app
from langgraph_ollama_local.cli.prune import retention_check
from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.store import open_checkpointer
from tests.store.test_retention import agent, count, turn

runner = CliRunner()


def test_prune_dry_run_then_prune_then_doctor(store_url, monkeypatch, tmp_path):
    monkeypatch.setenv("HITL_HOME", str(tmp_path))
    monkeypatch.delenv("HITL_STORAGE_URL", raising=False)
    with open_checkpointer(store_url) as saver:
        graph = agent(saver)
        for thread in ("a", "b"):
            for n in range(3):
                turn(graph, {"configurable": {"thread_id": thread}}, n)
        turn(graph, {"configurable": {"thread_id": "a"}}, 9, approve=False)
        counts = {t: count(saver, t) for t in ("a", "b")}
        state = graph.get_state({"configurable": {"thread_id": "a"}})
    assert min(counts.values()) > 5

    row = retention_check(LocalAgentConfig(storage_url=store_url))
    expected = sum(counts.values()) - 2 * 10 if min(counts.values()) > 10 else None
    assert row.ok and f"{sum(counts.values()):,} checkpoints in 2 threads" in row.detail
    if expected is not None:
        assert f"free {expected:,} checkpoints" in row.detail

    dry = runner.invoke(app, ["prune", "--db", store_url, "--keep", "2", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["dry_run"] and report["checkpoints_deleted"] == sum(counts.values()) - 4
    assert report["bytes_freed"] > 0
    with open_checkpointer(store_url) as saver:
        assert {t: count(saver, t) for t in ("a", "b")} == counts  # nothing deleted

    only_a = runner.invoke(app, ["prune", "--db", store_url, "--keep", "2", "--thread", "a"])
    assert only_a.exit_code == 0, only_a.output
    assert f"deleted {counts['a'] - 2:,} checkpoints" in only_a.output
    with open_checkpointer(store_url) as saver:
        assert (count(saver, "a"), count(saver, "b")) == (2, counts["b"])
        graph = agent(saver)
        after = graph.get_state({"configurable": {"thread_id": "a"}})
        assert after.values == state.values and [i.id for i in after.interrupts] == [i.id for i in state.interrupts]

    every = runner.invoke(app, ["prune", "--db", store_url, "--keep", "3", "--json", "--vacuum"])
    assert every.exit_code == 0, every.output
    result = json.loads(every.output)
    assert result["checkpoints_deleted"] == counts["b"] - 3
    if store_url.startswith("sqlite"):
        assert result["free_bytes"] == 0  # VACUUM gave the freed pages back
    row = retention_check(LocalAgentConfig(storage_url=store_url))
    assert "5 checkpoints in 2 threads" in row.detail and "would free 0 checkpoints" in row.detail
    assert row.fix == ""
