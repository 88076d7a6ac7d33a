# %% [markdown]
# # Tutorial 04: Human-in-the-Loop — on langgraph-ollama-local
#
# The tutorial's code, working for real: the LLM is Ollama when it is reachable with the
# model pulled, otherwise the embedded offline model; `send_email` really delivers (to SMTP
# when `HITL_SMTP__HOST` is set, else to the local outbox). Set `HITL_EXAMPLE_MODEL=scripted`
# to use a deterministic test double instead of an LLM (the test suite does).

# %%
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import MemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command
from typing_extensions import TypedDict

from langgraph_ollama_local import (
    ApprovalPolicy,
    ApprovalRunner,
    LocalAgentConfig,
    ask_human,
    build_selective_workflow,
    create_approval_agent,
)
from langgraph_ollama_local.agent import default_tools

config = LocalAgentConfig()
send_email, get_weather = default_tools(config)


def make_llm():
    """ChatOllama as in the tutorial when Ollama is up; else the embedded model."""
    if os.environ.get("HITL_EXAMPLE_MODEL") == "scripted":
        from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

        print("LLM: scripted test double")
        return ScriptedChatModel(script=email_assistant_script)
    from langgraph_ollama_local.llm import check_ollama, create_chat_model

    if check_ollama(config.ollama.base_url, config.ollama.model).ok:
        from langchain_ollama import ChatOllama

        print(f"LLM: Ollama {config.ollama.model}")
        return ChatOllama(model=config.ollama.model, base_url=config.ollama.base_url, temperature=0)
    print("LLM: embedded offline model (Ollama not reachable)")
    return create_chat_model(config.model_copy(update={"provider": "embedded"}))


base_llm = make_llm()

# %% [markdown]
# ## Complete code: a static breakpoint before the tools
#
# As in the tutorial: `interrupt_before=["tools"]`, inspect `state.next`, resume with
# `invoke(None, config)`. Note the demo auto-approves and the tutorial's own tool node has
# no memory of what already ran: a small model that repeats its call gets the email sent
# again on every loop. The gated agent below refuses to run a call twice in one turn.

# %%
tools = [send_email]
tools_by_name = {t.name: t for t in tools}
llm = base_llm.bind_tools(tools)


class State(TypedDict):
    messages: Annotated[list, add_messages]


def agent_node(state: State) -> dict:
    return {"messages": [llm.invoke(state["messages"])]}


def tool_node(state: State) -> dict:
    outputs = []
    for tc in state["messages"][-1].tool_calls:
        result = tools_by_name[tc["name"]].invoke(tc["args"])
        outputs.append(ToolMessage(content=json.dumps(result), name=tc["name"], tool_call_id=tc["id"]))
    return {"messages": outputs}


def should_continue(state: State) -> str:
    last = state["messages"][-1]
    if hasattr(last, "tool_calls") and last.tool_calls:
        return "tools"
    return "end"


workflow = StateGraph(State)
workflow.add_node("agent", agent_node)
workflow.add_node("tools", tool_node)
workflow.add_edge(START, "agent")
workflow.add_conditional_edges("agent", should_continue, {"tools": "tools", "end": END})
workflow.add_edge("tools", "agent")

memory = MemorySaver()
graph = workflow.compile(checkpointer=memory, interrupt_before=["tools"])


def run_with_approval(user_input: str, thread_id: str):
    config = {"configurable": {"thread_id": thread_id}}
    result = graph.invoke({"messages": [("user", user_input)]}, config=config)
    for _ in range(5):  # the tutorial loops `while True`; a small bound keeps demos finite
        state = graph.get_state(config)
        if not state.next:
            break
        last_msg = state.values["messages"][-1]
        print(f"Pending: {last_msg.tool_calls}")
        result = graph.invoke(None, config=config)  # auto-approve for the demo
    return result["messages"][-1].content


print("Reply:", run_with_approval("Send email to test@example.com", "demo-1"))

# %% [markdown]
# ## Dynamic `interrupt()`: the approval gate decides per call
#
# `create_approval_agent` raises one interrupt per gated call; resume it by interrupt id
# with `approve`, `edit`, `reject` (with a reason) or `respond`.

# %%
policy = ApprovalPolicy.require_approval_for("send_email")  # get_weather runs freely
agent = create_approval_agent(base_llm, [send_email, get_weather], policy=policy, checkpointer=MemorySaver())

approve_cfg = {"configurable": {"thread_id": "approve-1"}}
agent.invoke({"messages": [("user", "Send email to alice@example.com saying hello")]}, approve_cfg)
for pending in agent.get_state(approve_cfg).interrupts:
    print("Approving:", pending.value["name"], pending.value["args"])
    agent.invoke(Command(resume={pending.id: {"type": "approve"}}), approve_cfg)
print("Approved run finished:", agent.get_state(approve_cfg).next == ())

reject_cfg = {"configurable": {"thread_id": "reject-1"}}
agent.invoke({"messages": [("user", "Send email to mallory@example.com saying hello")]}, reject_cfg)
for pending in agent.get_state(reject_cfg).interrupts:
    agent.invoke(Command(resume={pending.id: {"type": "reject", "message": "not this recipient"}}), reject_cfg)
rejections = [m for m in agent.get_state(reject_cfg).values["messages"] if isinstance(m, ToolMessage)]
print("Rejected:", [m.content for m in rejections])

# %% [markdown]
# ## Editing state before resuming (`update_state`)

# %%
edit_graph = create_approval_agent(
    base_llm, [send_email], policy=ApprovalPolicy.allow_all(), checkpointer=MemorySaver(), interrupt_before=["tools"]
)
edit_cfg = {"configurable": {"thread_id": "edit-1"}}
edit_graph.invoke({"messages": [("user", "Send email to danger@example.com saying hi")]}, edit_cfg)
state = edit_graph.get_state(edit_cfg)
if state.next:
    last_msg = state.values["messages"][-1]
    last_msg.tool_calls[0]["args"] = {"to": "safe@example.com", "subject": "Modified", "body": "Safe content"}
    edit_graph.update_state(edit_cfg, {"messages": [last_msg]})
    result = edit_graph.invoke(None, edit_cfg)
    print("Edited call ran:", "safe@example.com" in str(result["messages"]))

# %% [markdown]
# ## Selective interrupts: only sensitive tools pause

# %%
selective = build_selective_workflow(base_llm, [send_email, get_weather], sensitive_tools={"send_email"}).compile(
    checkpointer=MemorySaver(), interrupt_before=["sensitive_tools"]
)
weather_cfg = {"configurable": {"thread_id": "weather-1"}}
selective.invoke({"messages": [("user", "What's the weather in Paris?")]}, weather_cfg)
print("Weather question paused?", bool(selective.get_state(weather_cfg).next))

# %% [markdown]
# ## Asking the human for input ("Should I proceed?")

# %%


def chatbot_with_confirmation(state: State) -> dict:
    confirmation = ask_human("Should I proceed?", choices=["yes", "no"])
    if confirmation == "yes":
        response = base_llm.invoke(state["messages"])
    else:
        response = AIMessage(content="Okay, I won't proceed.")
    return {"messages": [response]}


builder = StateGraph(State)
builder.add_node("chatbot", chatbot_with_confirmation)
builder.add_edge(START, "chatbot")
builder.add_edge("chatbot", END)
confirm_graph = builder.compile(checkpointer=MemorySaver())
confirm_cfg = {"configurable": {"thread_id": "confirm-1"}}
confirm_graph.invoke({"messages": [("user", "Tell me about approvals")]}, confirm_cfg)
print("Question:", confirm_graph.get_state(confirm_cfg).interrupts[0].value["question"])
print("Answer no ->", confirm_graph.invoke(Command(resume="no"), confirm_cfg)["messages"][-1].content)

# %% [markdown]
# ## Multi-stage approvals: manager, then security (two different people)

# %%
two_stage = ApprovalPolicy.from_mapping(
    {
        "default": "allow",
        "tools": {"send_email": {"stages": [{"name": "manager", "role": "manager"}, {"name": "security", "role": "security"}]}},
    }
)
staged = create_approval_agent(base_llm, [send_email, get_weather], policy=two_stage, checkpointer=MemorySaver())
staged_cfg = {"configurable": {"thread_id": "stages-1"}}
staged.invoke({"messages": [("user", "Send email to partner@outside.org saying hi")]}, staged_cfg)
for approver in ("maria (manager)", "sam (security)"):
    pending = staged.get_state(staged_cfg).interrupts
    if not pending:
        break
    print(f"{approver} approves stage {pending[0].value['stage']!r}")
    staged.invoke(Command(resume={pending[0].id: {"type": "approve", "actor": approver}}), staged_cfg)

# %% [markdown]
# ## Approval timeouts: an unanswered request resolves by its policy

# %%
timed = ApprovalPolicy.from_mapping(
    {"default": "allow", "tools": {"send_email": {"stages": [{"role": "manager", "timeout_seconds": 300}]}}}
)
now = [datetime(2026, 1, 1, tzinfo=UTC)]
runner = ApprovalRunner(
    create_approval_agent(base_llm, [send_email, get_weather], policy=timed, checkpointer=MemorySaver()),
    clock=lambda: now[0],
)
runner.start("timeout-1", "Send email to slow@example.com saying hi")
now[0] += timedelta(seconds=301)  # nobody answered for five minutes
for action in runner.expire_overdue("timeout-1"):
    print("Deadline passed ->", action.outcome, "by", action.decision["actor"])

outbox = sorted(config.resolved_outbox_dir.glob("*.eml")) if config.resolved_outbox_dir.exists() else []
print(f"Outbox now holds {len(outbox)} message(s) in {config.resolved_outbox_dir}")
