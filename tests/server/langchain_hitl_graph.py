"""Someone else's graph: LangChain's create_agent with its HumanInTheLoopMiddleware in the
default *batched* mode, compiled without a checkpointer. The model is our scripted double."""

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from langgraph_ollama_local.testing import ScriptedChatModel, tool_call

LOG: list[str] = []


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    with open(__import__("os").environ["HITL_HOME"] + "/sent.log", "a") as handle:
        handle.write(to + "\n")
    return f"Email sent to {to}"


@tool
def delete_file(path: str) -> str:
    """Delete a file."""
    with open(__import__("os").environ["HITL_HOME"] + "/sent.log", "a") as handle:
        handle.write("deleted " + path + "\n")
    return f"Deleted {path}"


def script(messages):
    if messages[-1].type == "human":
        return AIMessage(content="", tool_calls=[
            tool_call("send_email", {"to": "a@example.com", "subject": "s", "body": "b"}),
            tool_call("delete_file", {"path": "/tmp/report"}),
        ])
    return AIMessage(content="Finished.")


graph = create_agent(
    ScriptedChatModel(script=script),
    tools=[send_email, delete_file],
    middleware=[HumanInTheLoopMiddleware(interrupt_on={"send_email": True, "delete_file": True})],
)
