"""`EmbeddedChatModel`: llama.cpp in-process, prompted with the model's own chat template.

Measured on this machine, rendering the GGUF's own template (Qwen's `<tool_call>` format)
and parsing its output picked the right tool far more often than llama-cpp-python's
`chatml-function-calling` handler or langchain-community's ChatLlamaCpp; so this model
does exactly that. One llama.cpp context per model file per process, used under a lock
(contexts are not thread-safe).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCallChunk,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from langgraph_ollama_local.llm.embedded.tool_calls import parse_tool_calls
from langgraph_ollama_local.llm.errors import ModelNotInstalledError

_STOP = ["<|im_end|>", "<|endoftext|>"]
_CACHE: dict[tuple[str, int, int | None], tuple[Any, threading.Lock]] = {}
_CACHE_LOCK = threading.Lock()


def load_llama(path: str, n_ctx: int, n_threads: int | None) -> tuple[Any, threading.Lock]:
    """The process-wide llama.cpp context for this file, created on first use."""
    key = (path, n_ctx, n_threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ModelNotInstalledError(
                    "llama-cpp-python is not installed; run `make install` "
                    "(or pip install 'langgraph-ollama-local[embedded]')"
                ) from exc
            llama = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            _CACHE[key] = (llama, threading.Lock())
        return _CACHE[key]


def to_template_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as the OpenAI-style dicts chat templates expect."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": message.text})
        elif isinstance(message, HumanMessage):
            out.append({"role": "user", "content": message.text})
        elif isinstance(message, AIMessage):
            item: dict[str, Any] = {"role": "assistant", "content": message.text}
            if message.tool_calls:
                item["tool_calls"] = [
                    {
                        "type": "function",
                        "id": tc["id"],
                        "function": {"name": tc["name"], "arguments": tc["args"]},
                    }
                    for tc in message.tool_calls
                ]
            out.append(item)
        elif isinstance(message, ToolMessage):
            out.append({"role": "tool", "content": message.text, "tool_call_id": message.tool_call_id})
        else:
            out.append({"role": "user", "content": message.text})
    return out


class EmbeddedChatModel(BaseChatModel):
    """A LangChain chat model over a local GGUF file (default: packaged Qwen2.5-Coder-0.5B)."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int = 0

    @property
    def _llm_type(self) -> str:
        return "embedded-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "temperature": self.temperature}

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def render_prompt(self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]] | None) -> str:
        llama, _ = load_llama(self.model_path, self.n_ctx, self.n_threads)
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelNotInstalledError(f"{self.model_path} carries no chat template; use a chat GGUF model")
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = lambda v, **kw: json.dumps(v, ensure_ascii=False)

        def raise_exception(message: str) -> None:
            raise ValueError(message)

        rendered: str = env.from_string(template).render(
            messages=to_template_messages(messages),
            tools=tools or None,
            add_generation_prompt=True,
            raise_exception=raise_exception,
        )
        return rendered

    def _completion_kwargs(self, stop: list[str] | None) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stop": _STOP + (stop or []),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.get("tools")
        prompt = self.render_prompt(messages, tools)
        llama, lock = load_llama(self.model_path, self.n_ctx, self.n_threads)
        with lock:
            result = llama.create_completion(prompt, **self._completion_kwargs(stop))
        text = result["choices"][0]["text"]
        names = [t["function"]["name"] for t in tools or []]
        content, calls = parse_tool_calls(text, names)
        usage = result.get("usage", {})
        message = AIMessage(
            content=content,
            tool_calls=calls,
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
            response_metadata={"model": self.model_path, "raw_text": text},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream visible text token by token; tool calls come as one chunk at the end.

        Once the text turns into a tool call (`<tool_call>` or JSON), tokens are held
        back so the user never sees half a call.
        """
        tools = kwargs.get("tools")
        prompt = self.render_prompt(messages, tools)
        llama, lock = load_llama(self.model_path, self.n_ctx, self.n_threads)
        text, shown = "", 0
        with lock:
            for part in llama.create_completion(prompt, stream=True, **self._completion_kwargs(stop)):
                token = part["choices"][0]["text"]
                text += token
                holding = "<tool_call>" in text or text.lstrip().startswith(("{", "[", "```", "<"))
                if not holding and len(text) > shown:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text[shown:]))
                    shown = len(text)
                    if run_manager:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        content, calls = parse_tool_calls(text, [t["function"]["name"] for t in tools or []])
        tail = content[shown:] if content.startswith(text[:shown]) else ""
        chunks = [
            ToolCallChunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
            for i, c in enumerate(calls)
        ]
        if tail or chunks:
            final = ChatGenerationChunk(message=AIMessageChunk(content=tail, tool_call_chunks=chunks))
            if run_manager and tail:
                run_manager.on_llm_new_token(tail, chunk=final)
            yield final
