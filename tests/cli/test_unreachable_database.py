"""With the database unreachable, the commands that open the store print one actionable
line and exit 2 — no traceback (the review counted ~580 lines of them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

HITL = Path(sys.executable).with_name("hitl")


@pytest.mark.parametrize(
    "command",
    [("audit", "verify"), ("tokens", "create", "bob", "--role", "approver"), ("serve", "--port", "0"), ("worker",)],
)
def test_an_unreachable_database_is_one_line_with_the_fix(command, tmp_path):
    db = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"  # nobody listens there
    done = subprocess.run([str(HITL), *command, "--db", db], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HITL_HOME": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: cannot open the storage PostgreSQL"), done.stderr
    assert "Connection refused" in errors[0] and "start the PostgreSQL server" in errors[0]
    assert not (tmp_path / "admin-token").exists() and "login#code=" not in done.stdout  # nothing issued
