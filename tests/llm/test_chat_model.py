"""`EmbeddedChatModel` logic without the 480 MB model: prompt rendering, parsing, streaming,
`tool_choice`, serialization of concurrent calls.

llama.cpp itself is replaced by a scripted stand-in (a test double: same `create_completion`
/ `tokenize` surface, canned text) so these run in milliseconds; the real model is
exercised by `test_embedded_model.py` (marker `embedded`). The chat template is the real
one from the packaged GGUF's metadata (`tokenizer.chat_template`), copied verbatim.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from langgraph_ollama_local.llm.embedded import chat_model
from langgraph_ollama_local.llm.embedded.chat_model import (
    EmbeddedChatModel,
    LoadedModel,
    compile_chat_template,
    forced_prefix,
    physical_cores,
)
from langgraph_ollama_local.llm.errors import ProviderError

QWEN_TEMPLATE = (Path(__file__).parent / "qwen2_5_chat_template.jinja").read_text()


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    return "sent"


@tool
def get_weather(location: str) -> str:
    """Get the weather for a location (<b>canned</b> & safe)."""
    return "Sunny"


class ScriptedLlama:
    """Answers every completion with the next scripted text, token by token when streaming."""

    def __init__(self, *replies: str, delay: float = 0.0) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.kwargs: list[dict[str, Any]] = []
        self.delay = delay
        self.active = 0
        self.max_active = 0
        self.metadata = {"tokenizer.chat_template": QWEN_TEMPLATE}
        self.guard = threading.Lock()

    def _enter(self) -> str:
        with self.guard:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.delay)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _leave(self) -> None:
        with self.guard:
            self.active -= 1

    @staticmethod
    def tokens(text: str) -> list[str]:
        """Split like a BPE would, roughly: words with their leading space, tags whole."""
        out: list[str] = []
        for piece in text.replace("<tool_call>", "\0<tool_call>\0").split("\0"):
            if piece == "<tool_call>":
                out.append(piece)
                continue
            word = ""
            for ch in piece:
                if ch in ' {}"\n' and word:
                    out.append(word)
                    word = ""
                word += ch
            if word:
                out.append(word)
        return out

    def tokenize(self, data: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(self.tokens(data.decode()))))

    def create_completion(self, prompt: str, stream: bool = False, **kwargs: Any) -> Any:
        self.prompts.append(prompt)
        self.kwargs.append(kwargs)
        if len(prompt) > 20000:
            raise ValueError("Requested tokens (9000) exceed context window of 4096")
        if stream:
            return self._stream()
        text = self._enter()
        self._leave()
        n = len(self.tokens(text))
        return {
            "choices": [{"text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": n, "total_tokens": 100 + n},
        }

    def _stream(self):
        text = self._enter()
        try:
            for token in self.tokens(text):
                time.sleep(self.delay / 10)
                yield {"choices": [{"text": token, "finish_reason": None}]}
            yield {"choices": [{"text": "", "finish_reason": "stop"}]}
        finally:
            self._leave()


@pytest.fixture
def scripted(tmp_path, monkeypatch):
    """Install a ScriptedLlama as the process-wide model for a fake path; returns a factory."""

    def install(
        *replies: str, delay: float = 0.0, staged: bool = False
    ) -> tuple[EmbeddedChatModel, ScriptedLlama]:
        llama = ScriptedLlama(*replies, delay=delay)
        path = str(tmp_path / "scripted.gguf")
        loaded = LoadedModel(
            llama=llama,
            lock=threading.Lock(),
            template=compile_chat_template(QWEN_TEMPLATE),
            bos_token="<|endoftext|>",
            eos_token="<|im_end|>",
            worker=ThreadPoolExecutor(max_workers=1),
        )
        monkeypatch.setitem(chat_model._MODELS, (path, 4096, None, True), loaded)
        # One scripted reply per completion: the one-grammar path. Staged JSON (a completion
        # per value) has its own test below and the real model's in test_embedded_model.py.
        return EmbeddedChatModel(model_path=path, staged_json=staged), llama

    return install


CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Oslo"}}\n</tool_call>'


def test_a_staged_call_asks_for_each_value_after_the_fixed_text_and_joins_them(scripted):
    """Staged JSON (llm/embedded/staged.py) through the chat model: one completion per value,
    each prompted with everything written so far; invoke and stream give the same call."""
    for run in ("invoke", "stream"):
        model, llama = scripted(' "bob@example.com",', ' "Lunch"', ' "At noon."}', staged=True)
        bound = model.bind_tools([send_email, get_weather], tool_choice="send_email")
        reply = bound.invoke("Email bob") if run == "invoke" else collect(list(bound.stream("Email bob")))
        assert [c["args"] for c in reply.tool_calls] == [
            {"to": "bob@example.com", "subject": "Lunch", "body": "At noon."}
        ], run
        head = '<tool_call>\n{"name": "send_email", "arguments": '
        assert [p[p.rindex(head) + len(head) :] for p in llama.prompts] == [
            '{"to":',
            '{"to": "bob@example.com", "subject":',
            '{"to": "bob@example.com", "subject": "Lunch", "body":',
        ], run
        assert all(kwargs["stop"] == [] and "grammar" in kwargs for kwargs in llama.kwargs), run


def test_prompt_is_the_models_own_template_with_tools_and_history(scripted):
    model, llama = scripted("ok")
    history = [
        SystemMessage("You are terse."),
        HumanMessage("Weather in Oslo?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"location": "Oslo"}, "id": "c1"}]),
        ToolMessage("Sunny", tool_call_id="c1"),
        ToolMessage("Windy", tool_call_id="c2"),
    ]
    model.bind_tools([send_email, get_weather]).invoke(history)
    prompt = llama.prompts[0]
    assert prompt.startswith("<|im_start|>system\nYou are terse.\n\n# Tools\n")
    # tojson must not HTML-escape (jinja2's own filter would write \u003c...).
    assert '"description": "Get the weather for a location (<b>canned</b> & safe)."' in prompt
    assert '{"type": "function", "function": {"name": "send_email"' in prompt
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Oslo"}}\n'
        "</tool_call><|im_end|>\n"
    ) in prompt
    assert (
        "<|im_start|>user\n<tool_response>\nSunny\n</tool_response>\n<tool_response>\nWindy\n</tool_response><|im_end|>"
        in prompt
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    assert llama.kwargs[0]["stop"][:2] == ["<|im_end|>", "<|endoftext|>"]
    assert llama.kwargs[0]["temperature"] == 0.0 and llama.kwargs[0]["max_tokens"] == 512


def test_without_tools_there_is_no_tools_section(scripted):
    model, llama = scripted("Hello!")
    reply = model.invoke("hi")
    assert reply.content == "Hello!" and reply.tool_calls == []
    assert "# Tools" not in llama.prompts[0]


def test_without_tools_json_is_an_answer_not_a_call(scripted):
    """No tools offered, no tool-calling contract: call-shaped JSON stays visible text."""
    text = '{"name": "get_weather", "arguments": {"location": "Rome"}}'
    model, _ = scripted(text)
    reply = model.invoke("give me an example tool call as JSON")
    assert reply.tool_calls == [] and reply.content == text
    streamed = collect(list(model.stream("again")))
    assert streamed.content == text and streamed.tool_calls == []


def test_invoke_returns_tool_calls_and_usage(scripted):
    model, _ = scripted(CALL)
    reply = model.bind_tools([get_weather]).invoke("Weather in Oslo?")
    assert reply.content == ""
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("get_weather", {"location": "Oslo"})]
    assert reply.usage_metadata["input_tokens"] == 100 and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["raw_text"] == CALL


def test_unknown_tool_names_reach_the_caller(scripted):
    model, _ = scripted('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>')
    assert model.bind_tools([get_weather]).invoke("x").tool_calls[0]["name"] == "rm_rf"


def test_bind_tools_accepts_tools_functions_models_and_dicts(scripted):
    class Lookup(BaseModel):
        """Look a word up."""

        word: str

    def shout(text: str) -> str:
        """Shout it."""
        return text.upper()

    as_dict = {"type": "function", "function": {"name": "raw", "description": "d", "parameters": {}}}
    model, llama = scripted("ok")
    bound = model.bind_tools([get_weather, Lookup, shout, as_dict])
    assert [t["function"]["name"] for t in bound.kwargs["tools"]] == ["get_weather", "Lookup", "shout", "raw"]
    bound.invoke("x")
    assert '"name": "Lookup"' in llama.prompts[0] and '"name": "raw"' in llama.prompts[0]


def test_tool_choice_named_tool_prefills_the_call(scripted):
    model, llama = scripted('{"location": "Oslo"}}\n</tool_call>')
    reply = model.bind_tools([send_email, get_weather], tool_choice="get_weather").invoke("hello")
    assert llama.prompts[0].endswith(
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": '
    )
    assert reply.tool_calls[0]["name"] == "get_weather" and reply.tool_calls[0]["args"] == {
        "location": "Oslo"
    }
    # The arguments are sampled under the tool's own JSON schema: only `location`, a string.
    grammar = llama.kwargs[0]["grammar"]._grammar
    assert "location" in grammar and "subject" not in grammar


def test_tool_choice_any_constrains_the_call_to_an_offered_tool(scripted):
    model, llama = scripted('{"name": "get_weather", "arguments": {"location": "Rome"}}\n</tool_call>')
    reply = model.bind_tools([send_email, get_weather], tool_choice="any").invoke("hello")
    grammar = llama.kwargs[0]["grammar"]._grammar
    assert "send_email" in grammar and "get_weather" in grammar
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("get_weather", {"location": "Rome"})]


def test_tool_choice_none_hides_the_tools_and_allows_only_prose(scripted):
    model, llama = scripted("Just text.")
    model.bind_tools([get_weather], tool_choice="none").invoke("hello")
    assert "# Tools" not in llama.prompts[0]
    assert llama.kwargs[0]["grammar"]._grammar == chat_model.PROSE_GRAMMAR


def test_free_choice_is_not_constrained(scripted):
    model, llama = scripted("Just text.")
    model.bind_tools([get_weather]).invoke("hello")
    assert "grammar" not in llama.kwargs[0]


def test_forced_prefix_shapes():
    tools = [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}]
    assert forced_prefix(None, tools) == forced_prefix("auto", tools) == ""
    assert forced_prefix("any", tools) == "<tool_call>\n"
    assert forced_prefix("required", tools[:1]).endswith('{"name": "a", "arguments": ')
    assert forced_prefix({"type": "function", "function": {"name": "b"}}, tools).endswith(
        '"b", "arguments": '
    )
    assert forced_prefix("any", []) == ""


def test_structured_output_works_through_tool_choice(scripted):
    class Weather(BaseModel):
        """Weather report."""

        city: str
        sunny: bool

    model, _ = scripted('{"city": "Oslo", "sunny": true}}\n</tool_call>')
    assert model.with_structured_output(Weather).invoke("Oslo is sunny") == Weather(city="Oslo", sunny=True)


def collect(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def test_stream_text_token_by_token(scripted):
    text = "The sea is wide and deep, and the wind is cold today."
    model, _ = scripted(text)
    chunks = list(model.stream("Say something about the sea"))
    assert len(chunks) >= 8
    total = collect(chunks)
    assert total.content == text and total.tool_calls == []
    assert total.usage_metadata["output_tokens"] > 0


def test_stream_never_shows_any_part_of_a_tool_call(scripted):
    model, _ = scripted("Let me check that. " + CALL)
    chunks = list(model.bind_tools([get_weather]).stream("Weather in Oslo?"))
    shown = "".join(str(c.content) for c in chunks)
    assert "<tool" not in shown and "{" not in shown
    total = collect(chunks)
    assert str(total.content).strip() == "Let me check that."
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [("get_weather", {"location": "Oslo"})]
    assert chunks[-1].tool_call_chunks and chunks[-1].chunk_position == "last"


def test_stream_and_invoke_agree(scripted):
    for reply in (CALL, "Plain answer here.", '{"name": "get_weather", "arguments": {"location": "Rome"}}'):
        model, _ = scripted(reply)
        bound = model.bind_tools([get_weather])
        invoked = bound.invoke("x")
        streamed = collect(list(bound.stream("x")))
        assert str(streamed.content).strip() == invoked.content
        assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [
            (c["name"], c["args"]) for c in invoked.tool_calls
        ]


def test_a_fenced_code_answer_is_still_delivered_when_streaming(scripted):
    text = "Here:\n```python\nprint('hi')\n```\nDone."
    model, _ = scripted(text)
    assert collect(list(model.stream("code please"))).content == text


def test_concurrent_threads_are_serialized(scripted):
    model, llama = scripted("ok", delay=0.05)
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: model.invoke("hi"), range(6)))
    assert [r.content for r in replies] == ["ok"] * 6
    assert llama.max_active == 1


async def test_concurrent_async_calls_are_serialized_and_do_not_block_the_loop(scripted):
    model, llama = scripted(CALL, delay=0.05)
    bound = model.bind_tools([get_weather])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    beat = asyncio.create_task(ticker())
    replies = await asyncio.gather(*(bound.ainvoke("x") for _ in range(4)), _astream_all(bound))
    beat.cancel()
    assert all(r.tool_calls[0]["name"] == "get_weather" for r in replies)
    assert llama.max_active == 1
    assert ticks > 10  # the event loop kept running while llama.cpp "worked"


async def _astream_all(bound) -> AIMessageChunk:
    return collect([chunk async for chunk in bound.astream("x")])


async def test_astream_stopped_early_frees_the_model(scripted):
    model, _ = scripted("one two three four five six seven eight nine ten", delay=0.02)
    stream = model.astream("count")
    first = await anext(stream)
    assert first.content
    await stream.aclose()
    assert (await model.ainvoke("again")).content  # the lock was released


def test_context_overflow_is_an_actionable_error(scripted):
    model, _ = scripted("ok")
    with pytest.raises(ProviderError, match="HITL_EMBEDDED__N_CTX"):
        model.invoke("x" * 30000)
    with pytest.raises(ProviderError, match="new thread"):
        list(model.stream("x" * 30000))


def test_a_gguf_without_a_chat_template_is_refused(scripted):
    model, _ = scripted("ok")
    chat_model._MODELS[(model.model_path, 4096, None, True)].template = None
    with pytest.raises(ProviderError, match="no chat template"):
        model.invoke("hi")


def test_thread_default_is_one_per_physical_core():
    import os

    assert 1 <= physical_cores() <= (os.cpu_count() or 1)
