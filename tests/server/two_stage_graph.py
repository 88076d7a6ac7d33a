"""A graph for `hitl serve --graph`: send_email needs a manager, then finance (two people).
Scripted model (test double); email goes to the outbox under $HITL_HOME."""

from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, build_workflow
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

policy = ApprovalPolicy.from_mapping(
    {
        "default": "allow",
        "tools": {
            "send_email": {
                "stages": [{"name": "manager", "role": "approver"}, {"name": "finance", "role": "finance"}],
            }
        },
    }
)
graph = build_workflow(
    ScriptedChatModel(script=email_assistant_script), default_tools(LocalAgentConfig()), policy=policy
).compile()
