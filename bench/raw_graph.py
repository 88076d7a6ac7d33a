"""The raw-LangGraph side of every comparison, importable without our package.

The minimal graph a LangGraph tutorial reader writes: an agent node, a review node with a
plain `interrupt()` before the tool, `ToolNode`; the model is our `ScriptedChatModel`
(the same file, loaded by path when our package is not installed, as in the separate
`langgraph dev` venv).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import interrupt

SCRIPTED = Path(__file__).resolve().parent.parent / "src/langgraph_ollama_local/testing/scripted_model.py"


def _scripted() -> Any:
    try:
        from langgraph_ollama_local.testing import scripted_model
    except ImportError:  # the langgraph-dev venv: load the very same file by path
        spec = importlib.util.spec_from_file_location("bench_scripted_model", SCRIPTED)
        assert spec is not None and spec.loader is not None
        scripted_model = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = scripted_model
        spec.loader.exec_module(scripted_model)
    return scripted_model


_model_module = _scripted()
ScriptedChatModel = _model_module.ScriptedChatModel
email_assistant_script = _model_module.email_assistant_script
SENT: list[str] = []


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return f"Email sent to {to}"


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def build_raw(state: type = State) -> StateGraph[Any, Any, Any, Any]:
    model = ScriptedChatModel(script=email_assistant_script).bind_tools([send_email])

    def agent(s: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [model.invoke(s["messages"])]}

    async def aagent(s: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(s["messages"])]}

    def review(s: dict[str, Any]) -> dict[str, Any]:
        last = s["messages"][-1]
        assert isinstance(last, AIMessage)
        answer = interrupt({"tool_calls": last.tool_calls})
        if answer.get("type") != "approve":
            raise RuntimeError("rejected")
        return {}

    def route(s: dict[str, Any]) -> str:
        last = s["messages"][-1]
        return "review" if isinstance(last, AIMessage) and last.tool_calls else END

    builder = StateGraph(state)
    builder.add_node("agent", RunnableLambda(agent, afunc=aagent, name="agent"))
    builder.add_node("review", review)
    builder.add_node("tools", ToolNode([send_email]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["review", END])
    builder.add_edge("review", "tools")
    builder.add_edge("tools", "agent")
    return builder
