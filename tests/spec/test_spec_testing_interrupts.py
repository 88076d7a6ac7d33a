"""The tutorial's three "Testing Interrupts" tests, bodies verbatim, against our graph.

`workflow` is our `build_workflow` (agent ⇄ tools) with the real `send_email` tool
delivering to a real local SMTP server; a scripted chat model stands in for ChatOllama
because a real model is not deterministic. The static breakpoint is the human checkpoint
here, so the dynamic gate is told to let calls through (`ApprovalPolicy.allow_all()`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langgraph.checkpoint.memory import MemorySaver

from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, build_workflow
from langgraph_ollama_local.agent.tools import default_tools
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

workflow = None  # set per test by the fixture below, as a module global like the tutorial's


@pytest.fixture(autouse=True)
def _workflow(smtp_server, tmp_path) -> Iterator[None]:
    global workflow
    host, port, _inbox = smtp_server
    config = LocalAgentConfig(home=tmp_path, smtp={"host": host, "port": port})
    model = ScriptedChatModel(script=email_assistant_script)
    workflow = build_workflow(model, default_tools(config), policy=ApprovalPolicy.allow_all())
    yield
    workflow = None


def test_graph_pauses_before_tools():
    """Test that graph pauses before sensitive actions."""
    memory = MemorySaver()
    graph = workflow.compile(
        checkpointer=memory,
        interrupt_before=["tools"]
    )

    config = {"configurable": {"thread_id": "test-1"}}

    # Invoke with a message that triggers tool use
    graph.invoke(
        {"messages": [("user", "Send email to test@example.com")]},
        config=config
    )

    # Check that we're paused
    state = graph.get_state(config)
    assert state.next == ("tools",)


def test_resume_after_approval():
    """Test that graph resumes correctly after approval."""
    memory = MemorySaver()
    graph = workflow.compile(
        checkpointer=memory,
        interrupt_before=["tools"]
    )

    config = {"configurable": {"thread_id": "test-2"}}

    # Trigger pause
    graph.invoke(
        {"messages": [("user", "Send email to test@example.com")]},
        config=config
    )

    # Resume
    result = graph.invoke(None, config=config)

    # Verify execution completed
    state = graph.get_state(config)
    assert state.next == ()  # Empty = complete
    assert any("sent" in str(m.content).lower() for m in result["messages"])


def test_state_modification_before_resume():
    """Test that state edits are applied."""
    memory = MemorySaver()
    graph = workflow.compile(
        checkpointer=memory,
        interrupt_before=["tools"]
    )

    config = {"configurable": {"thread_id": "test-3"}}

    # Trigger pause
    graph.invoke(
        {"messages": [("user", "Send email to danger@example.com")]},
        config=config
    )

    # Get and modify state
    state = graph.get_state(config)
    last_msg = state.values["messages"][-1]

    # Change recipient to safe address
    last_msg.tool_calls[0]["args"]["to"] = "safe@example.com"
    graph.update_state(config, {"messages": [last_msg]})

    # Resume
    result = graph.invoke(None, config=config)

    # Verify modification was applied
    assert "safe@example.com" in str(result["messages"])


def test_the_edit_is_what_really_ran(smtp_server):
    """Beyond the tutorial's string check: the email went to the edited address only."""
    _, _, inbox = smtp_server
    graph = workflow.compile(checkpointer=MemorySaver(), interrupt_before=["tools"])
    config = {"configurable": {"thread_id": "edit-check"}}
    graph.invoke({"messages": [("user", "Send email to danger@example.com")]}, config=config)
    last_msg = graph.get_state(config).values["messages"][-1]
    last_msg.tool_calls[0]["args"]["to"] = "safe@example.com"
    graph.update_state(config, {"messages": [last_msg]})
    graph.invoke(None, config=config)
    assert inbox.recipients() == ["safe@example.com"]
