# %% [markdown]
# # Tutorial 04: Human-in-the-Loop — on langgraph-ollama-local
#
# Pause an agent before it takes a sensitive action, let a human review it, and go on
# (or not). Every pattern of the tutorial runs here for real:
#
# - **the LLM** is `ChatOllama(model=config.ollama.model, base_url=config.ollama.base_url,
#   temperature=0)` as in the tutorial when Ollama is reachable with the model pulled;
#   otherwise our offline model (llama.cpp in-process) from `create_chat_model(config)`;
# - **`send_email` really delivers**: through SMTP when `HITL_SMTP__HOST` is set, else as an
#   `.eml` file in the local outbox (`HITL_HOME/outbox`), and it says which;
# - **the human** is simulated: every decision below is made by code and printed, so the
#   whole lesson runs top to bottom without a prompt. In your app the same calls are made
#   from a UI, the `hitl chat` CLI, or the HTTP service.
#
# `HITL_EXAMPLE_MODEL=scripted` swaps the LLM for a deterministic test double (the test
# suite uses it). Run the script with `python examples/04_human_in_the_loop.py`, or this
# notebook with `cd examples && jupyter lab 04_human_in_the_loop.ipynb`.

# %%
import json
import os
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Annotated

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import MemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command
from pydantic import ValidationError
from typing_extensions import TypedDict

from langgraph_ollama_local import (
    ApprovalPolicy,
    ApprovalRunner,
    CheckpointerRequiredError,
    LocalAgentConfig,
    ask_human,
    build_selective_workflow,
    create_approval_agent,
)
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.approvals import NotPausedError
from langgraph_ollama_local.cli.graph_picture import write_graph_picture
from langgraph_ollama_local.llm import check_ollama, create_chat_model, resolve_provider
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

config = LocalAgentConfig()
print("State and outbox under:", config.home)

# %% [markdown]
# ## Why human-in-the-loop?
#
# Agents are powerful but need oversight. Before an agent sends an email, makes a payment,
# deletes data or calls an API with side effects, a human should be able to review the
# action and **approve**, **edit**, **reject** it, or **answer a question** instead.
#
# ## Core concepts
#
# 1. **Interrupts need a checkpointer.** When a run pauses, its state is saved by the
#    checkpointer under the thread id; resuming loads it back. Here `MemorySaver()` keeps
#    it in memory; `langgraph_ollama_local.store.open_checkpointer("sqlite:///hitl.db")`
#    survives restarts.
# 2. **Static breakpoints**: `compile(interrupt_before=["tools"], interrupt_after=[...])`.
# 3. **Dynamic breakpoints**: `interrupt(payload)` inside a node, at runtime.
# 4. **Check the status** with `graph.get_state(config).next`: a non-empty tuple means paused.
# 5. **Resume** with `invoke(None, config)` (go on as is) or `invoke(Command(resume=value), config)`.
#
# ## The LLM
#
# Ollama when reachable with the model pulled (the tutorial's `ChatOllama` line), else the
# provider `create_chat_model(config)` picks: the embedded offline model unless
# `HITL_PROVIDER` says otherwise.

# %%
def make_llm():
    if os.environ.get("HITL_EXAMPLE_MODEL") == "scripted":
        # A TEST DOUBLE, not an LLM: replies follow fixed rules (an address in the message
        # -> send_email to it, "weather in X" -> get_weather, tool results -> "Done. ...").
        print("LLM: scripted test double (HITL_EXAMPLE_MODEL=scripted)")
        return ScriptedChatModel(script=email_assistant_script)
    if os.environ.get("HITL_EXAMPLE_MODEL"):
        raise SystemExit("HITL_EXAMPLE_MODEL accepts only 'scripted' (unset it to use a real model)")
    choice = resolve_provider(config)
    if choice.name == "ollama" and check_ollama(config.ollama.base_url, config.ollama.model).ok:
        from langchain_ollama import ChatOllama

        print(f"LLM: Ollama {config.ollama.model} at {config.ollama.base_url}")
        return ChatOllama(model=config.ollama.model, base_url=config.ollama.base_url, temperature=0)
    print(f"LLM: {choice.name} ({choice.reason})")
    return create_chat_model(config, choice)


base_llm = make_llm()

# %% [markdown]
# ## Building an approval workflow
#
# ### Step 1: define sensitive tools
#
# The package's `send_email` and `get_weather` have the tutorial's signatures;
# `send_email` delivers for real (see above).

# %%
send_email, get_weather = default_tools(config)
SENSITIVE_TOOLS = {"send_email"}  # mark which tools are sensitive

# %% [markdown]
# ### Step 2: build the graph
#
# The tutorial's complete code: state, an agent node, a tool node, the router, and
# `compile(checkpointer=memory, interrupt_before=["tools"])`. One change: the tool node
# reports a failing call (unknown tool, missing argument, bad address) to the model
# instead of crashing the run — small local models do make such calls.

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
        try:
            result = tools_by_name[tc["name"]].invoke(tc["args"])
        except Exception as exc:  # the one change from the tutorial: tell the model, go on
            result = f"Error: {type(exc).__name__}: {exc}"
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
graph = workflow.compile(checkpointer=memory, interrupt_before=["tools"])  # pause before ANY tool

# %% [markdown]
# ### Step 3: run with approval
#
# The tutorial asks `input("Approve? (y/n): ")`. Here a reviewer function answers instead:
# it approves mail to `@example.com` only. A rejection must be handled (pitfall 5): we
# answer every pending call with a ToolMessage saying it was rejected, *as the tools node*
# (`as_node="tools"`), so the model learns what happened and the history stays valid (a
# tool call left without its result breaks the next model turn on many providers).


# %%
def reviewer_approves(tool_call: dict) -> bool:
    """Stands in for input("Approve? (y/n): "): approves mail to example.com only."""
    return str(tool_call["args"].get("to", "")).endswith("@example.com")


def describe(g, cfg: dict) -> str:
    """The reply of a finished run, or what a paused one waits for."""
    state = g.get_state(cfg)
    if state.next:
        calls = [tc["name"] for tc in getattr(state.values["messages"][-1], "tool_calls", [])]
        return f"(paused before {state.next[0]}: the model asks for {calls})"
    return state.values["messages"][-1].content


def review_one_turn(user_input: str, thread_id: str) -> None:
    cfg = {"configurable": {"thread_id": thread_id}}
    graph.invoke({"messages": [("user", user_input)]}, config=cfg)
    state = graph.get_state(cfg)
    if not state.next:
        print("No tool call; the model answered:", state.values["messages"][-1].content)
        return
    last_msg = state.values["messages"][-1]
    for tc in last_msg.tool_calls:
        print(f"Pending: {tc['name']}({tc['args']})")
    if all(reviewer_approves(tc) for tc in last_msg.tool_calls):
        print("Approve? (y/n): y")
        graph.invoke(None, config=cfg)
    else:
        print("Approve? (y/n): n -> Rejected!")
        rejections = [
            ToolMessage(content="Rejected by the reviewer: not sent.", name=tc["name"], tool_call_id=tc["id"])
            for tc in last_msg.tool_calls
        ]
        graph.update_state(cfg, {"messages": rejections}, as_node="tools")
        graph.invoke(None, config=cfg)
    print("Reply:", describe(graph, cfg))


review_one_turn("Send an email to alice@example.com saying the report is ready", "step3-approve")
review_one_turn("Send an email to mallory@competitor.test with our price list", "step3-reject")

# %% [markdown]
# ### The complete code's helper: `run_with_approval`
#
# As in the tutorial it auto-approves every pause. The tutorial loops `while True`; a small
# model that keeps asking for the same call would loop (and mail) forever — pitfall 4 — so
# this one stops after a few approvals and says so.

# %%
MAX_APPROVALS = 3


def run_with_approval(user_input: str, thread_id: str):
    config = {"configurable": {"thread_id": thread_id}}
    result = graph.invoke({"messages": [("user", user_input)]}, config=config)

    for _ in range(MAX_APPROVALS):
        state = graph.get_state(config)
        if not state.next:
            break
        last_msg = state.values["messages"][-1]  # show the pending action
        print(f"Pending: {last_msg.tool_calls}")
        result = graph.invoke(None, config=config)  # in production: get approval from a UI
    else:
        if graph.get_state(config).next:
            return f"(stopped after {MAX_APPROVALS} approvals: the model keeps asking for tools)"
    return result["messages"][-1].content


response = run_with_approval("Send email to test@example.com", "demo-1")
print("Reply:", response)

# %% [markdown]
# ## Graph visualization
#
# `write_graph_picture` writes the graph as Mermaid (`.mmd`) and, where a local Graphviz
# is installed (`apt-get install graphviz`), as PNG — without LangChain's default
# `draw_mermaid_png()`, which calls a web service. The node that pauses is marked
# `__interrupt = before`. The CLI does the same for the approval agent: `hitl graph`.

# %%
picture_dir = config.home / "graphs"
for path in write_graph_picture(graph, picture_dir, name="04-human-in-loop-graph"):
    print("wrote", path)
print((picture_dir / "04-human-in-loop-graph.mmd").read_text())

# %% [markdown]
# ## Selective interrupts
#
# Not all tools need approval. `build_selective_workflow` routes a turn with a sensitive
# call to a `sensitive_tools` node and everything else to `safe_tools`; only the first
# gets `interrupt_before`.

# %%
selective = build_selective_workflow(base_llm, [send_email, get_weather], sensitive_tools=SENSITIVE_TOOLS).compile(
    checkpointer=MemorySaver(), interrupt_before=["sensitive_tools"]  # NOT safe_tools
)
write_graph_picture(selective, picture_dir, name="04-selective-graph")

weather_cfg = {"configurable": {"thread_id": "weather-1"}}
selective.invoke({"messages": [("user", "What's the weather in Paris?")]}, weather_cfg)
paused = selective.get_state(weather_cfg).next
print("Weather question paused?", f"{bool(paused)} (before {paused})" if paused else False)
print("Reply:", describe(selective, weather_cfg))

email_cfg = {"configurable": {"thread_id": "selective-email-1"}}
selective.invoke({"messages": [("user", "Send an email to dave@example.com saying hi")]}, email_cfg)
print("Email request paused before:", selective.get_state(email_cfg).next)
if selective.get_state(email_cfg).next:
    selective.invoke(None, email_cfg)  # approved
    print("Reply:", describe(selective, email_cfg))

# %% [markdown]
# ## Advanced patterns
#
# ### 1. Dynamic interrupts with `interrupt()`
#
# `create_approval_agent` puts the tutorial's dynamic tool node in place: the policy says
# which calls need a human (`ApprovalPolicy.require_approval_for("send_email")` is the
# tutorial's `SENSITIVE_TOOLS`), and the tools node raises one `interrupt()` per gated
# call. Each pending interrupt has an id; resume with `Command(resume={id: decision})`,
# where a decision is `{"type": "approve"}`, `{"type": "reject", "message": why}`,
# `{"type": "edit", "args": {...}}` or `{"type": "respond", "message": ...}` (the
# tutorial's `{"approved": True}` is accepted too). A rejected call never runs; the model
# is told why.

# %%
policy = ApprovalPolicy.require_approval_for("send_email")  # get_weather runs freely
agent = create_approval_agent(base_llm, [send_email, get_weather], policy=policy, checkpointer=MemorySaver())

approve_cfg = {"configurable": {"thread_id": "approve-1"}}
agent.invoke({"messages": [("user", "Send email to bob@example.com saying hello")]}, approve_cfg)
for pending in agent.get_state(approve_cfg).interrupts:
    print("Approving:", pending.value["description"])
    agent.invoke(Command(resume={pending.id: {"type": "approve"}}), approve_cfg)
print("Approved run finished:", agent.get_state(approve_cfg).next == ())

reject_cfg = {"configurable": {"thread_id": "reject-1"}}
agent.invoke({"messages": [("user", "Send email to eve@example.org saying hello")]}, reject_cfg)
for pending in agent.get_state(reject_cfg).interrupts:
    print("Rejecting:", pending.value["description"])
    decision = {"type": "reject", "message": "not this recipient"}
    agent.invoke(Command(resume={pending.id: decision}), reject_cfg)
rejections = [m for m in agent.get_state(reject_cfg).values["messages"] if isinstance(m, ToolMessage)]
print("Rejected:", [m.content for m in rejections])

# %% [markdown]
# ### 2. Editing state before resuming
#
# The tutorial's recipe on the graph from Step 2: change the pending call's args, write the
# message back with `update_state` (same message id, so it *replaces* the pending call),
# then resume. The approval agent offers the same as a decision: `{"type": "edit", "args": ...}`.

# %%
edit_cfg = {"configurable": {"thread_id": "edit-1"}}
graph.invoke({"messages": [("user", "Send email to danger@example.com saying hi")]}, edit_cfg)
state = graph.get_state(edit_cfg)
last_msg = state.values["messages"][-1]
if state.next and last_msg.tool_calls and last_msg.tool_calls[0]["name"] == "send_email":
    print("Tool:", last_msg.tool_calls[0]["name"], "Args:", last_msg.tool_calls[0]["args"])
    edited_args = {"to": "safe@example.com", "subject": "Modified", "body": "Safe content"}
    last_msg.tool_calls[0]["args"] = edited_args
    graph.update_state(edit_cfg, {"messages": [last_msg]})
    result = graph.invoke(None, config=edit_cfg)
    print("Edited call ran:", "safe@example.com" in str(result["messages"]))

gate_edit_cfg = {"configurable": {"thread_id": "edit-2"}}
agent.invoke({"messages": [("user", "Send email to carol@exmaple.com saying hi")]}, gate_edit_cfg)
for pending in agent.get_state(gate_edit_cfg).interrupts:
    fixed = {**pending.value["args"], "to": "carol@example.com"}  # fix the typo in the domain
    print("Editing:", pending.value["args"].get("to"), "->", fixed["to"])
    agent.invoke(Command(resume={pending.id: {"type": "edit", "args": fixed}}), gate_edit_cfg)
print("Reply:", describe(agent, gate_edit_cfg))

# %% [markdown]
# ### 3. Providing input during an interrupt ("Should I proceed?")
#
# `ask_human(question, choices=...)` is `interrupt()` with the allowed answers checked by
# LangGraph *before* the answer is saved: a wrong one is refused and the question stays open.


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
confirm_graph.invoke({"messages": [("user", "Summarize why approvals matter")]}, confirm_cfg)
print("Question:", confirm_graph.get_state(confirm_cfg).interrupts[0].value["question"])
try:
    confirm_graph.invoke(Command(resume="maybe"), confirm_cfg)
except ValidationError as exc:
    print("Answer 'maybe' refused:", exc.errors()[0]["msg"])
print("Answer no ->", confirm_graph.invoke(Command(resume="no"), confirm_cfg)["messages"][-1].content)

# %% [markdown]
# ### 4. Multi-stage approvals: manager, then security
#
# Stages are policy data. Each stage is its own interrupt; the second is asked only after
# the first approved, and one person cannot approve both.

# %%
two_stage = ApprovalPolicy.from_mapping(
    {
        "default": "allow",
        "tools": {
            "send_email": {"stages": [{"name": "manager", "role": "manager"}, {"name": "security", "role": "security"}]}
        },
    }
)
staged = create_approval_agent(base_llm, [send_email, get_weather], policy=two_stage, checkpointer=MemorySaver())
staged_cfg = {"configurable": {"thread_id": "stages-1"}}
staged.invoke({"messages": [("user", "Send email to partner@outside.org saying hi")]}, staged_cfg)
for approver in ("maria (manager)", "maria (manager)", "sam (security)"):
    pending = staged.get_state(staged_cfg).interrupts
    if not pending:
        break
    stage = pending[0].value["stage"]
    try:
        staged.invoke(Command(resume={pending[0].id: {"type": "approve", "actor": approver}}), staged_cfg)
        print(f"{approver} approves stage {stage!r}")
    except ValidationError as exc:
        print(f"{approver} may not approve stage {stage!r}:", exc.errors()[0]["msg"])
print("Reply:", describe(staged, staged_cfg))

# %% [markdown]
# ## Common pitfalls, caught
#
# 1. **No checkpointer.** Plain LangGraph does not complain: the run just stops at the
#    breakpoint and can never be resumed. `create_approval_agent` refuses instead.
# 2. **Resuming when not paused** and 3. **the wrong thread id**: `invoke(None, config)`
#    silently does nothing, or fails with `EmptyInputError`. `ApprovalRunner.continue_run`
#    checks first and says what to do.
# 4. **Infinite approval loop**: the routers end the turn when the model stops asking for
#    tools; `run_with_approval` above is also bounded, and the approval gate refuses an
#    exact call it already saw rejected twice.
# 5. **Not handling rejections**: see Step 3 and the dynamic gate above.

# %%
no_memory = workflow.compile(interrupt_before=["tools"])  # WRONG: no checkpointer
no_memory.invoke({"messages": [("user", "Send email to nobody@example.com")]}, {"configurable": {"thread_id": "x"}})
try:
    no_memory.get_state({"configurable": {"thread_id": "x"}})
except ValueError as exc:
    print("Plain LangGraph stopped at the breakpoint, but nothing can resume it:", exc)
try:
    create_approval_agent(base_llm, [send_email], policy=policy)
except CheckpointerRequiredError as exc:
    print("No checkpointer:", exc)

runner = ApprovalRunner(confirm_graph)
for thread in ("confirm-1", "no-such-thread"):  # finished above / never started
    try:
        runner.continue_run(thread)
    except NotPausedError as exc:
        print("Refused:", exc)

# %% [markdown]
# ## Testing interrupts
#
# A real model is not deterministic, so tests script it: `ScriptedChatModel` from
# `langgraph_ollama_local.testing` replies by fixed rules. The tutorial's first two tests,
# on the graph of Step 2 built with that test double:

# %%
scripted = ScriptedChatModel(script=email_assistant_script)
test_graph = (
    build_selective_workflow(scripted, [send_email], sensitive_tools={"send_email"})
    .compile(checkpointer=MemorySaver(), interrupt_before=["sensitive_tools"])
)
test_cfg = {"configurable": {"thread_id": "test-1"}}
test_graph.invoke({"messages": [("user", "Send email to tester@example.com")]}, config=test_cfg)
assert test_graph.get_state(test_cfg).next == ("sensitive_tools",)  # paused before the action
result = test_graph.invoke(None, config=test_cfg)
assert test_graph.get_state(test_cfg).next == ()  # complete
assert any("tester@example.com" in str(m.content) for m in result["messages"])
print("Interrupt tests passed")

# %% [markdown]
# ## Timeout handling
#
# Each stage can carry `timeout_seconds` and `on_timeout` (`reject` by default, or
# `escalate` to another role, or an explicit `approve`). `ApprovalRunner.expire_overdue()`
# resolves every overdue request of a thread as its policy says; the service runs it on a
# timer. A fake clock stands in for five minutes of waiting.

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
for item in runner.pending("timeout-1"):
    print(f"Pending: {item.kind} for role {item.view.role!r}, deadline {item.deadline:%H:%M:%S}")
print("Overdue after 4 minutes:", runner.expire_overdue("timeout-1", now=now[0] + timedelta(minutes=4)))
now[0] += timedelta(seconds=301)  # nobody answered for five minutes
for action in runner.expire_overdue("timeout-1"):
    print("Deadline passed ->", action.outcome, "by", action.decision["actor"])
print("Reply:", describe(runner.graph, runner.config("timeout-1")))

# %% [markdown]
# ## Where the emails went
#
# Approved (and edited) calls were delivered; rejected and timed-out ones were not.

# %%
outbox = config.resolved_outbox_dir
messages = sorted(outbox.glob("*.eml")) if outbox.exists() else []
print(f"Outbox {outbox} holds {len(messages)} message(s):")
for path in messages:
    mail = message_from_bytes(path.read_bytes())
    print(f"  to {mail['To']}: {mail['Subject']}")

# %% [markdown]
# ## Key takeaways
#
# | Concept | What it does |
# |---|---|
# | `interrupt_before` / `interrupt_after` | pause before / after a node (compile time) |
# | `interrupt()` | pause at runtime with a payload; `create_approval_agent` raises one per gated call |
# | `state.next` | tuple of next nodes (empty when done) |
# | `invoke(None, config)` | resume a paused run as is |
# | `Command(resume=value)` | resume with the human's answer (`{id: decision}` for the gate) |
# | `update_state()` | edit the state (e.g. a pending tool call) before resuming |
# | `ApprovalPolicy` | which tools need approval, by whom, in how many stages, with what deadline |
#
# Next: Tutorial 05, Reflection.
