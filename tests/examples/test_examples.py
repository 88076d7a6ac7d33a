"""The tutorial's examples run for real: the script, and the notebook cell by cell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

from make_notebook import build  # noqa: E402


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HITL_EXAMPLE_MODEL": "scripted", "HITL_HOME": str(tmp_path)}


def test_script_runs_every_pattern(tmp_path):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "04_human_in_the_loop.py")], capture_output=True, text=True, env=env(tmp_path)
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for expected in (
        "Pending: [{'name': 'send_email'",
        "Approved run finished: True",
        "The user rejected the send_email call: not this recipient",
        "Edited call ran: True",
        "Weather question paused? False",
        "Answer no -> Okay, I won't proceed.",
        "sam (security) approves stage 'security'",
        "Deadline passed -> reject by system:deadline",
    ):
        assert expected in text, f"missing {expected!r} in:\n{text}"
    recipients = sorted(p.read_text().split("To: ")[1].split("\n")[0] for p in (tmp_path / "outbox").glob("*.eml"))
    # approved, edited and the two-stage email went out; the rejected and timed-out ones did not
    assert recipients == ["alice@example.com", "partner@outside.org", "safe@example.com", "test@example.com"]


def test_notebook_matches_the_script():
    committed = nbformat.read(EXAMPLES / "04_human_in_the_loop.ipynb", as_version=4)
    assert [c.source for c in committed.cells] == [c.source for c in build().cells], (
        "the notebook is stale: run `python examples/make_notebook.py`"
    )
    assert all(not c.get("outputs") for c in committed.cells if c.cell_type == "code")


def test_notebook_executes(tmp_path, monkeypatch):
    for key, value in env(tmp_path).items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(EXAMPLES / "04_human_in_the_loop.ipynb", as_version=4)
    # The kernel is this interpreter, so a fresh machine needs no user-level kernelspec.
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True, capture_output=True)
    client.execute()
    outputs = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "Approved run finished: True" in outputs and "Deadline passed -> reject" in outputs
