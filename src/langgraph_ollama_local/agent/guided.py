"""Guided turns: plan, act, answer — an agent loop that small local models get right.

Measured on the packaged models (bench/agent_quality.py): left to choose freely in the
classic agent ⇄ tools loop, a 0.5B model calls `send_email` for "Good morning!" and calls
`get_weather` again after its result, so a weather question ends in an approval request
nobody wanted. Each turn is therefore split into steps a small model does well, each one
constrained through the model's own interfaces (`with_structured_output`, `tool_choice`;
grammar-constrained sampling on the embedded model):

1. **plan** — when the user has spoken, a planner model (by default the packaged 1.5B)
   reads the message and writes `{"request": "...", "steps": [tool names]}` (few-shot;
   `[]` for chit-chat). Writing what the user wants before the steps is what made the
   1.5B right on every prompt of the tuning set, against 31/35 without it.
2. **act** — for each planned step the model writes only that tool's arguments
   (`tool_choice=<name>`), seeing the results so far: "weather, then email it to X"
   runs the weather call and then asks for the email with the weather in it. A tool with
   key arguments (what a person will review, e.g. recipients) is written by the planner.
3. **answer** — when the steps are done, or one of them did not run, the model answers
   in prose (`tool_choice="none"`) from the conversation and the tool results. What a
   person decided is reported here, not by the model, so a reply never claims what did
   not happen nor drops who an email went to: an approved call's own result is the reply
   ("Email to bob@example.com saved …"), and a call a person rejected, the policy denied,
   or that lacked what only the user can give ends with a plain sentence saying so.

The plan travels on the AI messages (`response_metadata["hitl_plan"]`), so it is
checkpointed with the conversation and a resumed run picks up where it stopped. Nothing
here decides whether a call may run: every call still goes through the `tools` node and
its gate, exactly as in the classic loop, so the guarantees do not depend on the plan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.constants import TAG_NOSTREAM

from langgraph_ollama_local.agent.state import AgentState
from langgraph_ollama_local.approvals.digest import call_digest
from langgraph_ollama_local.approvals.gate import HITL_METADATA_KEY, already_ran_this_turn, args_problem
from langgraph_ollama_local.approvals.provenance import KEY_ARGS_METADATA

PLAN_KEY = "hitl_plan"
MAX_PLAN_STEPS = 4
ANSWER_MAX_TOKENS = 192  # models that honour tool_choice="none" (the embedded one) stop here
PLAN_EXAMPLES_KEY = "hitl_plan_examples"
_NOT_RUN_BY_PEOPLE = ("rejected", "denied", "ungrounded")
_STOPS_THE_PLAN = ("rejected", "denied", "blocked", "ungrounded")

PLANNER_PROMPT = (
    "You decide which tools a request needs. Tools:\n{tools}\n"
    'Answer with JSON: "request" says in a few words what the user wants; "steps" lists the '
    "tools to call, in order ([] for greetings, small talk, general knowledge, math, writing "
    "or summarizing text, and anything no tool does)."
)
ANSWER_PROMPT = (
    "You are a helpful assistant. Answer the user's last message in plain words, briefly. "
    "When tool results above answer it, say what they say, with their facts and numbers. "
    "When a tool result says "
    "something was not done, say so and, if something is missing, ask the user for it."
)


@dataclass(frozen=True)
class PlanExample:
    """One few-shot example for the planner: a message, what it asks for, the tools."""

    message: str
    request: str
    steps: tuple[str, ...] = ()


GENERIC_EXAMPLES = (
    PlanExample("Hi there!", "a greeting"),
    PlanExample("What is 12 times 3?", "a math answer"),
    PlanExample("What is the population of Spain?", "a fact about Spain"),
    PlanExample("Write a haiku about snow", "a poem"),
)


def examples_for(tools: Sequence[BaseTool], extra: Sequence[PlanExample] = ()) -> list[PlanExample]:
    """The planner's few-shot set: generic no-tool cases, each tool's own examples
    (`metadata["hitl_plan_examples"]`), then `extra`; only examples whose tools exist."""
    names = {t.name for t in tools}
    found: list[PlanExample] = []
    for tool in tools:
        for item in (tool.metadata or {}).get(PLAN_EXAMPLES_KEY, ()):
            found.append(item if isinstance(item, PlanExample) else PlanExample(**item))
    chosen = [e for e in (*found, *extra) if set(e.steps) <= names]
    # Alternate tool and no-tool examples so neither kind dominates the end of the prompt.
    generic = list(GENERIC_EXAMPLES)
    mixed: list[PlanExample] = []
    while generic or chosen:
        if generic:
            mixed.append(generic.pop(0))
        if chosen:
            mixed.append(chosen.pop(0))
    return mixed


def plan_schema(tool_names: Sequence[str]) -> dict[str, Any]:
    steps: dict[str, Any] = {"type": "array", "maxItems": MAX_PLAN_STEPS}
    steps["items"] = {"type": "string", "enum": list(tool_names)} if tool_names else {"type": "string"}
    if not tool_names:
        steps["maxItems"] = 0
    return {
        "title": "plan",
        "description": "What the user wants and which tools to call, in order.",
        "type": "object",
        "properties": {"request": {"type": "string", "maxLength": 120}, "steps": steps},
        "required": ["request", "steps"],
    }


def _properties(tool: BaseTool) -> dict[str, Any]:
    parameters = convert_to_openai_tool(tool)["function"].get("parameters") or {}
    return dict(parameters.get("properties") or {})


def _describe(tool: BaseTool) -> str:
    params = ", ".join(_properties(tool))
    summary = (tool.description or "").strip().splitlines()[0] if tool.description else ""
    return f"- {tool.name}({params}): {summary}"


def _turn(messages: Sequence[BaseMessage]) -> tuple[int, Sequence[BaseMessage]]:
    start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    return start, messages[start + 1 :]


def _plan_in(turn: Sequence[BaseMessage]) -> tuple[dict[str, Any] | None, int]:
    """The turn's plan and the index of the last step acted on (-1: none yet)."""
    plan: dict[str, Any] | None = None
    step = -1
    for message in turn:
        if isinstance(message, AIMessage):
            meta = message.response_metadata.get(PLAN_KEY)
            if isinstance(meta, Mapping):
                plan = dict(meta)
                if isinstance(meta.get("step"), int):
                    step = max(step, int(meta["step"]))
    return plan, step


def _outcome(message: ToolMessage) -> str | None:
    meta = message.response_metadata.get(HITL_METADATA_KEY)
    return str(meta.get("outcome")) if isinstance(meta, Mapping) else None


def _reviewed(message: ToolMessage) -> bool:
    meta = message.response_metadata.get(HITL_METADATA_KEY)
    return isinstance(meta, Mapping) and bool(meta.get("decisions"))


def _key_args(args: Mapping[str, Any]) -> str:
    shown = [f"{k}: {v}" for k, v in args.items() if isinstance(v, str) and len(v) <= 80][:2]
    return f" ({'; '.join(shown)})" if shown else ""


def _field_phrase(tool: BaseTool | None, path: str) -> str:
    """`to` as a person reads it: the field's description ("recipient email address(es)")."""
    if tool is not None:
        field = _properties(tool).get(path.split(".")[0]) or {}
        description = str(field.get("description") or "").strip()
        if description:
            return description.split(",")[0].split(".")[0].strip().lower() or path
    return path


def not_done_sentences(turn: Sequence[BaseMessage], tools: Mapping[str, BaseTool] | None = None) -> list[str]:
    """One plain sentence per call in this turn that a person rejected, the policy denied,
    or that was not asked about because the user never gave its key arguments."""
    calls = {str(c["id"]): c for m in turn if isinstance(m, AIMessage) for c in m.tool_calls if c.get("id")}
    sentences: list[str] = []
    for message in turn:
        if not isinstance(message, ToolMessage) or _outcome(message) not in _NOT_RUN_BY_PEOPLE:
            continue
        call = calls.get(message.tool_call_id)
        name = call["name"] if call else (message.name or "the tool")
        args = call["args"] if call and isinstance(call.get("args"), Mapping) else {}
        meta = message.response_metadata.get(HITL_METADATA_KEY) or {}
        if _outcome(message) == "ungrounded":
            paths = meta.get("ungrounded_args") or []
            what = " and ".join(_field_phrase((tools or {}).get(name), p) for p in paths) or "some details"
            sentences.append(
                f"I did not run {name}: you did not give the {what}, and I will not guess. "
                f"Which {what} should I use?"
            )
        elif _outcome(message) == "rejected":
            reasons = [d.get("message") for d in meta.get("decisions", ()) if d.get("type") == "reject"]
            why = f" (“{reasons[-1]}”)" if reasons and reasons[-1] else ""
            sentences.append(f"I did not run {name}{_key_args(args)}: it was rejected{why}.")
        else:
            sentences.append(f"I did not run {name}{_key_args(args)}: the approval policy does not allow it.")
    return sentences


class GuidedTurns:
    """The `agent` node of a guided turn (see the module docstring)."""

    def __init__(
        self,
        model: BaseChatModel,
        tools: Sequence[BaseTool],
        *,
        planner: BaseChatModel | None = None,
        system_prompt: str | None = None,
        examples: Sequence[PlanExample] = (),
    ) -> None:
        self.model = model
        self.tools = list(tools)
        self.tool_names = [t.name for t in self.tools]
        self.planner = planner or model
        self.system_prompt = system_prompt
        self.examples = examples_for(self.tools, examples)
        schema = plan_schema(self.tool_names)
        # Tagged so LangGraph's token stream (`stream_mode="messages"`) never shows the plan JSON.
        self._plan = self.planner.with_structured_output(schema, method="json_schema").with_config(
            tags=[TAG_NOSTREAM]
        )
        self._planner_intro = PLANNER_PROMPT.format(tools="\n".join(_describe(t) for t in self.tools))
        # A tool with key arguments (an email's recipients) is a call a person will review:
        # its arguments are written by the planner, the better model. Measured: the 0.5B
        # dropped one of two recipients in 2 of 3 prompts, the 1.5B in none.
        self._acts: dict[str, Runnable[Any, BaseMessage]] = {
            t.name: (self.planner if (t.metadata or {}).get(KEY_ARGS_METADATA) else model).bind_tools(
                self.tools, tool_choice=t.name
            )
            for t in self.tools
        }
        # A small model asked "How do I boil an egg?" writes on up to its token limit
        # (measured: 90 s on a busy 2-core machine); replies are meant to be short.
        self._answer: Runnable[Any, BaseMessage] = (
            model.bind_tools(self.tools, tool_choice="none", max_tokens=ANSWER_MAX_TOKENS)
            if getattr(model, "constrains_tool_choice", False)
            else model
        )

    # -- the three steps ------------------------------------------------------------

    def planner_messages(self, messages: Sequence[BaseMessage]) -> list[AnyMessage]:
        """Few-shot pairs, then the latest user message (with the previous one for context)."""
        out: list[AnyMessage] = [SystemMessage(content=self._planner_intro)]
        for example in self.examples:
            out.append(HumanMessage(content=example.message))
            out.append(
                AIMessage(content=json.dumps({"request": example.request, "steps": list(example.steps)}))
            )
        users = [m for m in messages if isinstance(m, HumanMessage)]
        if len(users) > 1:
            out.append(
                HumanMessage(content=f"(Earlier the user said: {users[-2].text[:300]})\n{users[-1].text}")
            )
        elif users:
            out.append(HumanMessage(content=users[-1].text))
        return out

    def _validated(self, raw: Any) -> dict[str, Any]:
        plan = raw if isinstance(raw, Mapping) else {}
        steps = [s for s in plan.get("steps") or [] if s in self.tool_names][:MAX_PLAN_STEPS]
        return {"request": str(plan.get("request") or "")[:200], "steps": steps}

    def _agent_messages(self, messages: Sequence[BaseMessage]) -> list[AnyMessage]:
        out: list[AnyMessage] = list(messages)  # type: ignore[arg-type]
        if self.system_prompt and not (out and isinstance(out[0], SystemMessage)):
            out.insert(0, SystemMessage(content=self.system_prompt))
        return out

    def _answer_messages(self, messages: Sequence[BaseMessage]) -> list[AnyMessage]:
        rest = [m for m in messages if not isinstance(m, SystemMessage)]
        return [SystemMessage(content=ANSWER_PROMPT), *rest]  # type: ignore[list-item]

    # -- the node -------------------------------------------------------------------

    def next_action(self, messages: Sequence[BaseMessage]) -> tuple[str, dict[str, Any] | None, int]:
        """("plan" | "act" | "answer", the plan, the step to act on)."""
        start, turn = _turn(messages)
        if start < 0:
            return "answer", None, -1
        plan, last_step = _plan_in(turn)
        if plan is None:
            return ("plan", None, 0) if not turn else ("answer", None, -1)
        if any(isinstance(m, ToolMessage) and _outcome(m) in _STOPS_THE_PLAN for m in turn):
            return "answer", plan, -1
        step = last_step + 1
        return ("act", plan, step) if step < len(plan.get("steps") or ()) else ("answer", plan, -1)

    def _after_plan(self, messages: Sequence[BaseMessage], raw: Any) -> tuple[str, dict[str, Any], int]:
        plan = self._validated(raw)
        return ("act", plan, 0) if plan["steps"] else ("answer", plan, -1)

    def _repeats(self, messages: Sequence[BaseMessage], message: BaseMessage) -> bool:
        """The act step wrote a call this turn already ran: use that result, do not ask again."""
        if not isinstance(message, AIMessage) or not message.tool_calls:
            return False
        call = message.tool_calls[0]
        if args_problem(call.get("args")) is not None:
            return False
        _, turn = _turn(messages)
        return call_digest(call["name"], call["args"]) in already_ran_this_turn(turn)

    def _tagged(self, message: BaseMessage, plan: dict[str, Any] | None, step: int | None) -> BaseMessage:
        if not isinstance(message, AIMessage):
            message = AIMessage(content=message.text)
        meta = {**message.response_metadata}
        if plan is not None:
            meta[PLAN_KEY] = {**plan, "step": step}
        return message.model_copy(update={"response_metadata": meta})

    def _finish(
        self, messages: Sequence[BaseMessage], reply: BaseMessage | None, plan: dict[str, Any] | None
    ) -> dict[str, Any]:
        _, turn = _turn(messages)
        sentences = not_done_sentences(turn, {t.name: t for t in self.tools})
        text = reply.text.strip() if reply is not None else ""
        if text and reply is not None and reply.response_metadata.get("finish_reason") == "length":
            text += " …"  # cut at the reply's length limit: say so rather than end mid-word silently
        content = " ".join(part for part in (text, *sentences) if part) or "Done."
        base = reply if isinstance(reply, AIMessage) else AIMessage(content="")
        answer = base.model_copy(update={"content": content, "tool_calls": [], "invalid_tool_calls": []})
        return {"messages": [self._tagged(answer, plan, None)]}

    def _answerer(self, messages: Sequence[BaseMessage]) -> Runnable[Any, BaseMessage]:
        """The answer step; not token-streamed when sentences will be added to it, so a
        terminal or inbox that shows streamed tokens shows the whole final reply instead."""
        _, turn = _turn(messages)
        if not_done_sentences(turn):
            return self._answer.with_config(tags=[TAG_NOSTREAM])
        return self._answer

    def _people_decided_it_all(self, messages: Sequence[BaseMessage]) -> str | None:
        """The reply when people decided this turn's outcome: the approved calls' results.

        None when the model should answer (chit-chat, safe tools only, a human's respond).
        """
        _, turn = _turn(messages)
        results = [m for m in turn if isinstance(m, ToolMessage)]
        approved = [m.text for m in results if _outcome(m) == "run" and _reviewed(m)]
        if approved:
            return " ".join(approved)
        if results and all(_outcome(m) in _NOT_RUN_BY_PEOPLE for m in results):
            return ""
        return None

    def invoke(self, state: AgentState, config: RunnableConfig | None = None) -> dict[str, Any]:
        messages = state["messages"]
        action, plan, step = self.next_action(messages)
        if action == "plan":
            action, plan, step = self._after_plan(
                messages, self._plan.invoke(self.planner_messages(messages))
            )
        while action == "act" and plan is not None:
            name = plan["steps"][step]
            message = self._acts[name].invoke(self._agent_messages(messages))
            if not self._repeats(messages, message):
                return {"messages": [self._tagged(message, plan, step)]}
            step += 1
            action = "act" if step < len(plan["steps"]) else "answer"
        decided = self._people_decided_it_all(messages)
        if decided is not None:
            return self._finish(messages, AIMessage(content=decided), plan)
        return self._finish(messages, self._answerer(messages).invoke(self._answer_messages(messages)), plan)

    async def ainvoke(self, state: AgentState, config: RunnableConfig | None = None) -> dict[str, Any]:
        messages = state["messages"]
        action, plan, step = self.next_action(messages)
        if action == "plan":
            raw = await self._plan.ainvoke(self.planner_messages(messages))
            action, plan, step = self._after_plan(messages, raw)
        while action == "act" and plan is not None:
            name = plan["steps"][step]
            message = await self._acts[name].ainvoke(self._agent_messages(messages))
            if not self._repeats(messages, message):
                return {"messages": [self._tagged(message, plan, step)]}
            step += 1
            action = "act" if step < len(plan["steps"]) else "answer"
        decided = self._people_decided_it_all(messages)
        if decided is not None:
            return self._finish(messages, AIMessage(content=decided), plan)
        reply = await self._answerer(messages).ainvoke(self._answer_messages(messages))
        return self._finish(messages, reply, plan)

    def as_runnable(self) -> Runnable[AgentState, dict[str, Any]]:
        return RunnableLambda(self.invoke, afunc=self.ainvoke, name="agent")
