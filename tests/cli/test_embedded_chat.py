"""The installed `hitl` console script, end to end: real offline model, SQLite, outbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import outbox

pytestmark = pytest.mark.embedded


def test_hitl_chat_with_the_embedded_model_sends_the_approved_email(tmp_path):
    hitl = Path(sys.executable).with_name("hitl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env.update({"HITL_HOME": str(tmp_path), "COLUMNS": "160"})
    db = tmp_path / "chat.db"
    keys = "Send an email to bob@example.com saying hi\na\n/quit\n"
    result = subprocess.run(
        [str(hitl), "chat", "--provider", "embedded", "--db", f"sqlite:///{db}", "--thread", "e2e"],
        input=keys,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "model  embedded — provider set to embedded" in result.stdout
    assert f"stored in sqlite:///{db}" in result.stdout
    assert "approval needed" in result.stdout and '"to": "bob@example.com"' in result.stdout
    sent = outbox(tmp_path)
    assert "bob@example.com" in sent and set(sent) == {"bob@example.com"}
    assert db.stat().st_size > 0
    assert "Resume with: hitl chat --thread e2e" in result.stdout
