"""Our gated graph for `hitl serve --graph bench/service_graph.py:graph`: the same scripted
model and the same trivial `send_email` as the raw side (no outbox file per cycle),
`send_email` needs approval. Compiled without a checkpointer; the service supplies one."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from raw_graph import ScriptedChatModel, email_assistant_script, send_email

from langgraph_ollama_local import ApprovalPolicy, build_workflow

graph = build_workflow(
    ScriptedChatModel(script=email_assistant_script),
    [send_email],
    policy=ApprovalPolicy.require_approval_for("send_email"),
    system_prompt=None,
).compile()
