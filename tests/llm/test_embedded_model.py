"""The real embedded model (llama.cpp + Qwen2.5-Coder-0.5B Q4_K_M) through our provider.

Slow-ish (the model loads once per session, then ~1-3 s per prompt on a laptop CPU);
run with `pytest -m embedded`. Temperature 0 and a fixed seed keep answers repeatable.
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from langgraph_ollama_local import LocalAgentConfig
from langgraph_ollama_local.agent.guided import ANSWER_PROMPT
from langgraph_ollama_local.llm import EmbeddedChatModel, create_chat_model, resolve_provider
from langgraph_ollama_local.llm.cancel import GenerationCancelled, cancel_scope
from langgraph_ollama_local.llm.embedded.model_file import MODEL_FILENAME, QWEN_SHA256, marker_path

pytestmark = pytest.mark.embedded

SYSTEM = (
    "You are a helpful assistant with tools. When the user asks for an action a tool can do, "
    "call that tool with complete arguments."
)


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    return f"Email sent to {to}"


@tool
def get_weather(location: str) -> str:
    """Get the weather for a location."""
    return f"Weather in {location}: Sunny, 72°F"


@pytest.fixture(scope="module")
def model() -> EmbeddedChatModel:
    chat = create_chat_model(LocalAgentConfig(provider="embedded"))
    assert isinstance(chat, EmbeddedChatModel)
    return chat


def ask(model, prompt: str, tools=(send_email, get_weather)):
    bound = model.bind_tools(list(tools)) if tools else model
    return bound.invoke([SystemMessage(SYSTEM), HumanMessage(prompt)])


def test_the_packaged_model_file_is_joined_and_verified(model):
    assert model.model_path.endswith(MODEL_FILENAME)
    marker = marker_path(__import__("pathlib").Path(model.model_path))
    assert QWEN_SHA256 in marker.read_text()


@pytest.mark.parametrize(
    ("prompt", "tool_name", "arg", "value"),
    [
        (
            "Send an email to bob@example.com saying that lunch is at noon",
            "send_email",
            "to",
            "bob@example.com",
        ),
        (
            "Email alice@corp.org with subject Invoice and tell her it is paid",
            "send_email",
            "to",
            "alice@corp.org",
        ),
        ("What's the weather in Paris?", "get_weather", "location", "Paris"),
        ("Is it raining in Tokyo right now?", "get_weather", "location", "Tokyo"),
    ],
)
def test_it_chooses_the_right_tool_with_the_right_arguments(model, prompt, tool_name, arg, value):
    reply = ask(model, prompt)
    assert [c["name"] for c in reply.tool_calls] == [tool_name], reply.response_metadata["raw_text"]
    assert value.lower() in str(reply.tool_calls[0]["args"].get(arg, "")).lower()
    assert reply.usage_metadata["output_tokens"] > 0


def test_a_plain_answer_without_tools(model):
    reply = ask(model, "What is the capital of France? Answer in one word.", tools=())
    assert reply.tool_calls == []
    assert "paris" in str(reply.content).lower()


def test_it_answers_from_a_tool_result(model):
    """The answer step of a guided turn (agent/guided.py): after the tool result, the model
    is held to prose (`tool_choice="none"`, grammar-enforced) and says what the tool said.

    Left free to choose (`bind_tools` with no `tool_choice`), the 0.5B model calls the tool
    again instead (measured 5/5): that is why guided turns exist.
    """
    history = [
        SystemMessage(SYSTEM),
        HumanMessage("What's the weather in Paris?"),
        ask(model, "What's the weather in Paris?"),
    ]
    call = history[-1].tool_calls[0]
    history.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    answer = [SystemMessage(ANSWER_PROMPT), *history[1:]]
    reply = model.bind_tools([send_email, get_weather], tool_choice="none").invoke(answer)
    assert reply.tool_calls == []
    text = str(reply.content)
    assert "sunny" in text.lower() or "72" in text
    assert not text.lstrip().startswith(("{", "<", "["))


def test_streaming_yields_several_chunks(model):
    chunks = list(model.stream([HumanMessage("Write two sentences about the sea.")]))
    texts = [c.content for c in chunks if c.content]
    assert len(texts) >= 5
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert len(str(total.content)) > 20 and total.usage_metadata["output_tokens"] >= len(texts) - 1


def test_a_cancel_scope_stops_generation_at_the_next_token(model):
    """Ctrl-C in `hitl chat` sets the scope's event: llama.cpp stops before sampling more."""
    story = [HumanMessage("Write a long story about a lighthouse keeper, at least 400 words.")]
    seen: list[str] = []

    def read_three_then_stop(stop) -> None:
        for chunk in model.stream(story, max_tokens=300):
            seen.append(str(chunk.content))
            if len(seen) == 3:
                stop.set()

    with cancel_scope() as stop, pytest.raises(GenerationCancelled):
        read_three_then_stop(stop)
    assert len(seen) == 3  # nothing more was generated and handed out
    # Not streamed (how a planner is called): a stopped scope ends the call at its first token.
    with cancel_scope() as stop:
        stop.set()
        with pytest.raises(GenerationCancelled):
            model.invoke(story, max_tokens=300)
    # Outside a scope nothing changed: the same request runs to its end.
    assert len(list(model.stream(story, max_tokens=12))) >= 5


def test_streaming_a_tool_call_ends_in_tool_call_chunks(model):
    bound = model.bind_tools([send_email, get_weather])
    chunks: list[AIMessageChunk] = list(
        bound.stream([SystemMessage(SYSTEM), HumanMessage("Weather in Berlin?")])
    )
    assert "<tool_call>" not in "".join(str(c.content) for c in chunks)
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert [c["name"] for c in total.tool_calls] == ["get_weather"]
    assert "berlin" in total.tool_calls[0]["args"]["location"].lower()


def test_bind_tools_with_tool_decorated_functions_and_forced_choice(model):
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    reply = model.bind_tools([add], tool_choice="add").invoke("What is 2 plus 3?")
    assert reply.tool_calls[0]["name"] == "add"
    assert add.invoke(reply.tool_calls[0]["args"]) == 5


async def test_async_calls_share_one_model_safely(model):
    bound = model.bind_tools([send_email, get_weather])
    cities = ["Rome", "Oslo", "Lima"]
    replies = await asyncio.gather(
        *(bound.ainvoke([SystemMessage(SYSTEM), HumanMessage(f"What's the weather in {c}?")]) for c in cities)
    )
    assert [r.tool_calls[0]["args"]["location"] for r in replies] == cities


def test_auto_falls_back_to_this_model_without_ollama():
    config = LocalAgentConfig(ollama={"base_url": "http://127.0.0.1:9"})
    assert resolve_provider(config).name == "embedded"
    assert isinstance(create_chat_model(config), EmbeddedChatModel)


def test_each_kind_of_prompt_keeps_its_own_prefix_evaluated(model, monkeypatch):
    """Guided turns alternate structured, forced-call and prose prompts; each kind has its own
    llama.cpp context, so a prompt re-evaluates only what differs from the last of its kind."""
    import llama_cpp

    evaluated: list[int] = []
    real_eval = llama_cpp.Llama.eval
    monkeypatch.setattr(
        llama_cpp.Llama,
        "eval",
        lambda self, tokens: (evaluated.append(len(tokens)), real_eval(self, tokens))[1],
    )
    few_shot = SystemMessage(
        "Classify the request. " + " ".join(f"Example {i}: a request about item {i}." for i in range(40))
    )
    schema = {
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": ["weather", "email", "other"]}},
        "required": ["kind"],
    }
    plan = model.with_structured_output(schema, method="json_schema")
    answer = model.bind_tools([get_weather], tool_choice="none")
    call = model.bind_tools([send_email, get_weather], tool_choice="get_weather")

    def prompt_tokens(run) -> int:
        evaluated.clear()
        run()
        return evaluated[0]  # the prompt is evaluated in one batch; then one token per step

    plan.invoke([few_shot, HumanMessage("Weather in Oslo?")])
    answer.invoke([SystemMessage(ANSWER_PROMPT), HumanMessage("Good morning!")])
    call.invoke([SystemMessage(SYSTEM), HumanMessage("Weather in Rome?")])
    second_plan = prompt_tokens(
        lambda: plan.invoke([few_shot, HumanMessage("Email bob that lunch is at noon")])
    )
    second_answer = prompt_tokens(
        lambda: answer.invoke([SystemMessage(ANSWER_PROMPT), HumanMessage("Hello!")])
    )
    whole = len(
        model._loaded().llama.tokenize(
            model.render_prompt([few_shot, HumanMessage("Email bob that lunch is at noon")]).encode(),
            add_bos=False,
            special=True,
        )
    )
    assert (
        second_plan < 40 < whole
    )  # only the new user message (and the turn's tags), not the 400-token prefix
    assert second_answer < 40


PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "request": {"type": "string", "maxLength": 120},
        "steps": {"type": "array", "maxItems": 4, "items": {"type": "string", "enum": ["get_weather", "send_email"]}},
    },
    "required": ["request", "steps"],
}
PLAN_PROMPT = [
    SystemMessage(
        'Answer with JSON: "request" says in a few words what the user wants; "steps" lists the tools '
        "to call (get_weather, send_email), in order ([] for small talk)."
    ),
    HumanMessage("Check the weather in Oslo and email it to ann@example.com"),
]


def count_evals(monkeypatch) -> list[int]:
    """The batch size of every llama.cpp forward pass from now on."""
    import llama_cpp

    evaluated: list[int] = []
    real_eval = llama_cpp.Llama.eval
    monkeypatch.setattr(
        llama_cpp.Llama, "eval", lambda self, tokens: (evaluated.append(len(tokens)), real_eval(self, tokens))[1]
    )
    return evaluated


def test_staged_json_writes_the_same_object_in_fewer_forward_passes(model, monkeypatch):
    """The fixed text of a structured reply or a forced call is ours (llm/embedded/staged.py):
    the model samples only the values, so forced tokens cost no forward pass of their own."""
    evaluated = count_evals(monkeypatch)
    one_grammar = model.model_copy(update={"staged_json": False})
    runs = {}
    for name, chat in (("one grammar", one_grammar), ("staged", model)):
        plan = chat.with_structured_output(PLAN_SCHEMA, method="json_schema")
        email = chat.bind_tools([send_email, get_weather], tool_choice="send_email")
        evaluated.clear()
        planned = plan.invoke(PLAN_PROMPT)
        plan_passes = len(evaluated)
        evaluated.clear()
        call = email.invoke([SystemMessage(SYSTEM), HumanMessage("Email bob@example.com that lunch is at noon")])
        runs[name] = (planned, call.tool_calls[0]["args"], plan_passes, len(evaluated))
    assert runs["staged"][0]["steps"] == runs["one grammar"][0]["steps"] == ["get_weather", "send_email"]
    # The same keys in the same order; free text (a body) may differ in a near-tie, because the
    # fixed text is evaluated in one batch instead of token by token (llama.cpp rounds those
    # differently), so only the recipient, the key argument, is compared exactly.
    assert list(runs["staged"][1]) == list(runs["one grammar"][1]) == ["to", "subject", "body"]
    assert runs["staged"][1]["to"] == runs["one grammar"][1]["to"] == "bob@example.com"
    assert all(isinstance(v, str) and v.strip() for v in runs["staged"][1].values())
    # `{"request": "`, `", "steps": ["`, `"]}` and the end-of-text token are no longer sampled.
    assert runs["staged"][2] < runs["one grammar"][2] - 4
    assert runs["staged"][3] < runs["one grammar"][3] - 4


def test_greedy_grammar_sampling_checks_the_best_token_first_and_picks_the_same_tokens(model, monkeypatch):
    """llm/embedded/lazy_grammar.py: the grammar is asked about the most likely token first and
    runs over the whole vocabulary only when it refuses it — and the tokens are those a full
    pass picks, for prose, a forced call (with a pattern) and a JSON schema."""
    from langgraph_ollama_local.llm.embedded import lazy_grammar

    used: list[lazy_grammar.GreedyGrammarSampler] = []
    real_sample = lazy_grammar.GreedyGrammarSampler.sample

    def spy(self, ctx, idx=-1):
        if self not in used:
            used.append(self)
        return real_sample(self, ctx, idx)

    check_first = {"on": True}
    real_greedy = lazy_grammar.is_plain_greedy
    monkeypatch.setattr(lazy_grammar.GreedyGrammarSampler, "sample", spy)
    monkeypatch.setattr(lazy_grammar, "is_plain_greedy", lambda s: check_first["on"] and real_greedy(s))
    emails = [SystemMessage(SYSTEM), HumanMessage("Tell ana@example.com and ben@example.com that lunch is cancelled")]
    requests = {
        "prose": (
            model.bind_tools([get_weather], tool_choice="none", max_tokens=40),
            [HumanMessage("Hi! How are you?")],
            lambda reply: reply.content,
        ),
        "call": (
            model.bind_tools([send_email, get_weather], tool_choice="send_email"),
            emails,
            lambda reply: reply.tool_calls[0]["args"],
        ),
        "schema": (model.with_structured_output(PLAN_SCHEMA, method="json_schema"), PLAN_PROMPT, lambda r: r),
    }
    for kind, (runnable, messages, view) in requests.items():
        runnable.invoke(messages)  # both compared runs below start from this cache state
        check_first["on"], used[:] = True, []
        checked_first = view(runnable.invoke(messages))
        samplers = list(used)
        check_first["on"], used[:] = False, []
        full = view(runnable.invoke(messages))
        assert not used, kind  # llama-cpp-python's own sampler chain ran
        assert checked_first == full, kind
        assert samplers, f"{kind}: the check-first sampler was not used"
        sampled = sum(s.sampled for s in samplers)
        full_passes = sum(s.full_passes for s in samplers)
        assert full_passes < sampled / 2, f"{kind}: the whole vocabulary was checked {full_passes}/{sampled} times"
