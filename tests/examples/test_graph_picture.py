"""`write_graph_picture`: Mermaid always, PNG only from a local Graphviz, never the network."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_ollama_local import (
    ApprovalPolicy,
    LocalAgentConfig,
    build_selective_workflow,
    create_approval_agent,
)
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.cli import graph_picture
from langgraph_ollama_local.cli.graph_picture import picture_stem, to_dot, write_graph_picture
from langgraph_ollama_local.testing import ScriptedChatModel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a socket (e.g. mermaid.ink) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("write_graph_picture tried to use the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def agent(tmp_path):
    tools = default_tools(LocalAgentConfig(home=tmp_path))
    return create_approval_agent(
        ScriptedChatModel(),
        tools,
        policy=ApprovalPolicy.require_approval_for("send_email"),
        checkpointer=InMemorySaver(),
        interrupt_before=["tools"],
    )


@pytest.fixture
def selective(tmp_path):
    tools = default_tools(LocalAgentConfig(home=tmp_path))
    return build_selective_workflow(ScriptedChatModel(), tools, sensitive_tools={"send_email"}).compile(
        checkpointer=InMemorySaver(), interrupt_before=["sensitive_tools"]
    )


def assert_valid_mermaid(path: Path, graph) -> None:
    text = path.read_text(encoding="utf-8")
    drawable = graph.get_graph()
    body = text.split("---\n", 2)[2] if text.startswith("---\n") else text  # YAML front matter
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    assert lines[0] == "graph TD;"
    declared = {re.match(r"[A-Za-z0-9_]+", line).group(0) for line in lines[1:] if re.match(r"\w+[(\[]", line)}
    assert declared == set(drawable.nodes)
    edges = [line for line in lines if re.fullmatch(r"\w+ (-->|-\.->|-\. .* \.->) \w+;", line)]
    assert len(edges) == len(drawable.edges)
    for line in edges:
        source, target = line.rstrip(";").split()[0], line.rstrip(";").split()[-1]
        assert source in drawable.nodes and target in drawable.nodes


def test_writes_mermaid_for_a_file_path(tmp_path, agent):
    files = write_graph_picture(agent, tmp_path / "pics" / "agent.mmd", png=False)
    assert files == [tmp_path / "pics" / "agent.mmd"]
    assert_valid_mermaid(files[0], agent)
    assert "tools<hr/><small><em>__interrupt = before</em></small>" in files[0].read_text()


def test_writes_mermaid_into_a_directory(tmp_path, selective):
    files = write_graph_picture(selective, tmp_path / "new-dir", png=False, name="selective")
    assert files == [tmp_path / "new-dir" / "selective.mmd"]
    assert_valid_mermaid(files[0], selective)
    (tmp_path / "existing").mkdir()
    assert write_graph_picture(selective, tmp_path / "existing", png=False) == [tmp_path / "existing" / "graph.mmd"]


def test_output_paths():
    assert picture_stem("out/g") == Path("out/g")
    assert picture_stem("out/g.png") == Path("out/g")
    assert picture_stem("out/g.mmd") == Path("out/g")
    assert picture_stem("out/g.v2") == Path("out/g.v2")
    assert picture_stem("out/") == Path("out/graph")
    assert picture_stem("out", name="agent") == Path("out/agent")


def test_without_graphviz_the_png_is_skipped_with_a_hint(tmp_path, agent, monkeypatch):
    monkeypatch.setattr(graph_picture.shutil, "which", lambda name: None)
    monkeypatch.setattr(graph_picture.importlib.util, "find_spec", lambda name: None)
    notes: list[str] = []
    files = write_graph_picture(agent, tmp_path / "g", notify=notes.append)
    assert files == [tmp_path / "g.mmd"]
    assert not (tmp_path / "g.png").exists()
    assert len(notes) == 1 and "apt-get install graphviz" in notes[0]


def test_the_default_hint_goes_to_stderr(tmp_path, agent, monkeypatch, capsys):
    monkeypatch.setattr(graph_picture.shutil, "which", lambda name: None)
    monkeypatch.setattr(graph_picture.importlib.util, "find_spec", lambda name: None)
    write_graph_picture(agent, tmp_path / "g")
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_dot_text_marks_the_paused_node(selective):
    dot = to_dot(selective)
    assert dot.startswith("digraph G {") and dot.rstrip().endswith("}")
    assert '"sensitive_tools" [label="sensitive_tools\\n(pauses before)"' in dot
    assert '"agent" -> "safe_tools" [style="dashed"];' in dot
    assert '"agent" -> "__end__" [style="dashed", label="end"];' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed (apt-get install graphviz)")
def test_png_with_graphviz(tmp_path, agent, selective):
    for name, graph in (("agent", agent), ("selective", selective)):
        files = write_graph_picture(graph, tmp_path, name=name)
        assert files == [tmp_path / f"{name}.mmd", tmp_path / f"{name}.png"]
        assert_valid_mermaid(files[0], graph)
        data = files[1].read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
