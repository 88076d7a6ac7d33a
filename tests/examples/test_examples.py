"""The tutorial's examples run for real: the script, the notebook cell by cell, the pictures.

The LLM is the scripted test double (`HITL_EXAMPLE_MODEL=scripted`), so the outcomes are
exact; everything else is real: checkpointers, interrupts, the approval gate, and email
delivery to the outbox under a temporary `HITL_HOME`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from email import message_from_bytes
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).parents[2] / "examples"
SCRIPT = EXAMPLES / "04_human_in_the_loop.py"
NOTEBOOK = EXAMPLES / "04_human_in_the_loop.ipynb"

# Approved, edited and fully staged emails go out; rejected, pre-edit and timed-out ones don't.
DELIVERED = {
    "alice@example.com",  # Step 3: the reviewer approved
    "test@example.com",  # run_with_approval
    "dave@example.com",  # selective interrupts: approved after the pause
    "bob@example.com",  # dynamic gate: {"type": "approve"}
    "safe@example.com",  # update_state edit of danger@example.com
    "carol@example.com",  # gate edit of carol@exmaple.com
    "partner@outside.org",  # manager, then security
    "tester@example.com",  # the testing section
}
NOT_DELIVERED = {
    "mallory@competitor.test",  # Step 3: the reviewer rejected
    "eve@example.org",  # dynamic gate: rejected with a reason
    "danger@example.com",  # edited before it ran
    "carol@exmaple.com",  # edited before it ran
    "slow@example.com",  # nobody answered before the deadline
    "nobody@example.com",  # stopped at a breakpoint without a checkpointer
}
EXPECTED_LINES = (
    "LLM: scripted test double",
    "Pending: send_email({'to': 'alice@example.com'",
    "Approve? (y/n): n -> Rejected!",
    "Reply: Done. Rejected by the reviewer: not sent.",
    "Pending: [{'name': 'send_email', 'args': {'to': 'test@example.com'",
    "Weather question paused? False",
    "Email request paused before: ('sensitive_tools',)",
    "Approved run finished: True",
    "The user rejected the send_email call: not this recipient",
    "Edited call ran: True",
    "Editing: carol@exmaple.com -> carol@example.com",
    "Answer 'maybe' refused: Input should be 'yes' or 'no'",
    "Answer no -> Okay, I won't proceed.",
    "maria (manager) approves stage 'manager'",
    "maria (manager) may not approve stage 'security'",
    "sam (security) approves stage 'security'",
    "Plain LangGraph stopped at the breakpoint, but nothing can resume it",
    "No checkpointer: create_approval_agent needs a checkpointer",
    "Refused: thread 'confirm-1' is not paused",
    "Refused: thread 'no-such-thread' has no saved state",
    "Interrupt tests passed",
    "Overdue after 4 minutes: []",
    "Deadline passed -> reject by system:deadline",
    "Outbox ",
)


def load(name: str) -> ModuleType:
    """Import a helper script from examples/ without putting examples/ on sys.path."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_env(home: Path) -> dict[str, str]:
    """The caller's environment minus any HITL_* setting (SMTP host, outbox…), plus ours."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    return {**clean, "HITL_EXAMPLE_MODEL": "scripted", "HITL_HOME": str(home)}


def outbox_recipients(home: Path) -> list[str]:
    return sorted(str(message_from_bytes(p.read_bytes())["To"]) for p in (home / "outbox").glob("*.eml"))


def assert_outcomes(text: str, home: Path) -> None:
    missing = [line for line in EXPECTED_LINES if line not in text]
    assert not missing, f"missing {missing} in:\n{text}"
    recipients = outbox_recipients(home)
    assert set(recipients) == DELIVERED, recipients
    assert len(recipients) == len(DELIVERED), f"an email went out twice: {recipients}"
    assert not NOT_DELIVERED & set(recipients)
    assert (home / "graphs" / "04-human-in-loop-graph.mmd").is_file()
    assert (home / "graphs" / "04-selective-graph.mmd").is_file()


def test_script_runs_every_pattern(tmp_path):
    home = tmp_path / "home"
    out = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        env=example_env(home),
        cwd=tmp_path,  # no stray .env from the checkout
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert_outcomes(out.stdout, home)


def test_script_refuses_an_unknown_model_switch(tmp_path):
    env = {**example_env(tmp_path), "HITL_EXAMPLE_MODEL": "gpt"}
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 1
    assert "HITL_EXAMPLE_MODEL accepts only 'scripted'" in out.stderr


def test_notebook_matches_the_script_and_has_no_outputs():
    committed = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(committed)
    expected = load("make_notebook").build()
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ], "the notebook is stale: run `.venv/bin/python examples/make_notebook.py`"
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    markdown = "\n".join(c.source for c in committed.cells if c.cell_type == "markdown")
    for section in (
        "## Why human-in-the-loop?",
        "## Core concepts",
        "### Step 1: define sensitive tools",
        "### Step 2: build the graph",
        "### Step 3: run with approval",
        "## Graph visualization",
        "## Selective interrupts",
        "### 1. Dynamic interrupts with `interrupt()`",
        "### 2. Editing state before resuming",
        "### 3. Providing input during an interrupt",
        "### 4. Multi-stage approvals",
        "## Common pitfalls",
        "## Testing interrupts",
        "## Timeout handling",
        "## Key takeaways",
    ):
        assert section in markdown, section


def venv_kernel_manager(spec_root: Path):
    """A kernel of *this* interpreter, from a private kernelspec.

    Resolving the name `python3` could pick a user-level kernelspec for another Python
    that lacks the package; a fresh machine may have none at all. Neither matters here.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    kernel_dir = spec_root / "kernels" / "hitl-examples"
    kernel_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "hitl examples",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(spec_root / "kernels")])
    return AsyncKernelManager(kernel_name="hitl-examples", kernel_spec_manager=specs)


def test_notebook_executes_without_errors(tmp_path, monkeypatch):
    home = tmp_path / "home"
    for key in [k for k in os.environ if k.startswith("HITL_")]:
        monkeypatch.delenv(key)
    for key, value in example_env(home).items():
        monkeypatch.setenv(key, value)  # the kernel inherits this environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        km=venv_kernel_manager(tmp_path / "jupyter"),
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert_outcomes(text, home)


def test_committed_graph_images_are_current():
    images = load("make_graph_images")
    graphs = images.build_graphs()
    committed = sorted(p.stem for p in (EXAMPLES / "images").glob("*.mmd"))
    assert committed == sorted(graphs)
    for name, graph in graphs.items():
        text = (EXAMPLES / "images" / f"{name}.mmd").read_text()
        assert text.rstrip("\n") == graph.get_graph().draw_mermaid().rstrip("\n"), (
            f"images/{name}.mmd is stale: run `.venv/bin/python examples/make_graph_images.py`"
        )
    assert "tools<hr/><small><em>__interrupt = before</em></small>" in (
        EXAMPLES / "images" / "04-human-in-loop-graph.mmd"
    ).read_text()


@pytest.mark.embedded
@pytest.mark.timeout(960)  # above the subprocess's own 900 s bound, so that one reports
def test_script_with_the_real_offline_model(tmp_path):
    """The script as a user runs it, on the embedded model (no Ollama here): ~1.5 min.

    What the model writes varies, but what the approvals refused must never go out.
    """
    env = {k: v for k, v in example_env(tmp_path / "home").items() if k != "HITL_EXAMPLE_MODEL"}
    env["HITL_PROVIDER"] = "embedded"
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "LLM: embedded (provider set to embedded" in out.stdout
    assert "Interrupt tests passed" in out.stdout and "Deadline passed -> reject" in out.stdout
    assert not NOT_DELIVERED & set(outbox_recipients(tmp_path / "home"))
