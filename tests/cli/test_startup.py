"""`hitl tokens list` and friends do not pay for LangGraph, LangChain or a model to start."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("langgraph", "langchain_core", "langchain_openai", "openai", "llama_cpp", "fastapi")


def test_the_command_line_loads_without_the_agent_stack():
    probe = (
        "import sys, langgraph_ollama_local.cli.app\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"imported at start: {loaded}"


def test_the_public_names_still_import_from_the_package():
    probe = (
        "from langgraph_ollama_local import LocalAgentConfig, create_approval_agent, ApprovalPolicy, __version__\n"
        "from langgraph_ollama_local.llm import create_chat_model, ProviderError\n"
        "from langgraph_ollama_local.approvals import Decision, read_interrupt\n"
        "import langgraph_ollama_local as p\n"
        "assert 'ApprovalRunner' in dir(p) and callable(create_approval_agent)\n"
        "try:\n    from langgraph_ollama_local import NoSuchName\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "cannot import name 'NoSuchName'" in out
