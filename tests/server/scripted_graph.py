"""A graph for `hitl serve --graph`: the approval agent with a scripted model (test double),
compiled WITHOUT a checkpointer, as langgraph.json graphs are; the server supplies one.
Email goes to the outbox under $HITL_HOME."""

from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, build_workflow
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

# One reviewer (the service's own policy says who may decide): an edit is that reviewer's
# approval. Under separation of duties an edited call is reviewed again by someone else.
policy = ApprovalPolicy.from_mapping(
    {
        "default": "allow",
        "access": {"self_approval": True},
        "tools": {"send_email": {"allowed_decisions": ["approve", "edit", "reject", "respond"]}},
    }
)
graph = build_workflow(
    ScriptedChatModel(script=email_assistant_script), default_tools(LocalAgentConfig()), policy=policy
).compile()
