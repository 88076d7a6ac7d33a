"""`EmbeddedChatModel`: llama.cpp in-process, prompted with the model's own chat template.

Why this shape: measured here, llama-cpp-python's `chatml-function-calling` handler and
langchain-community's ChatLlamaCpp chose the right tool 0% of the time with this model,
while rendering the GGUF's own template (Qwen's `<tool_call>` format) and parsing its
output chose right 30/30. So the prompt is the model's `tokenizer.chat_template`
rendered in a jinja2 sandbox, and `create_completion` runs on that raw prompt.

One model per (file, n_ctx, n_threads) per process, loaded on first use, with one llama.cpp
context per *kind of prompt* (structured output, forced call, prose, free): llama.cpp
re-evaluates only what differs from the previous prompt of the same context, and guided
turns alternate plan / act / answer prompts whose long fixed prefixes (few-shot examples,
tool definitions) would otherwise be evaluated again on every step. Contexts share the
model's weights (mmap) and cost their KV cache each. They are not thread-safe, so every
call into a model's contexts holds its lock; async calls run on that model's own single
worker thread so waiting for the lock never ties up (or deadlocks) the event loop's
shared executor.

`tool_choice` is enforced with llama.cpp's grammar-constrained sampling: a forced call can
only be a well-formed call of an offered tool whose arguments match its JSON schema, and
`tool_choice="none"` can only be prose (no `<tool_call>`, no leading JSON). Small models
write valid calls when forced this way; left free, they often do not. Two shortcuts keep the
constraint cheap without changing what is written: a JSON object's fixed text is put in the
prompt and only its values are sampled (`staged.py`), and greedy sampling asks the grammar
about the most likely token before the whole vocabulary (`lazy_grammar.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from jinja2 import Template
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolCallChunk,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel as PydanticBaseModel

from langgraph_ollama_local.llm.cancel import GenerationCancelled, cancel_requested, current_scope
from langgraph_ollama_local.llm.embedded.staged import (
    Stage,
    StagedResult,
    object_stages,
    stage_grammar,
    write_object,
)
from langgraph_ollama_local.llm.embedded.tool_calls import parse_tool_calls
from langgraph_ollama_local.llm.errors import ModelNotInstalledError, ProviderError

STOP = ("<|im_end|>", "<|endoftext|>")
_TOOL_TAG = "<tool_call>"
_FENCE = "```"


@dataclass
class LoadedModel:
    """A model's llama.cpp contexts plus what every call needs from them.

    `llama` serves free prompts (and every prompt when `open_context` is None);
    `context(kind)` opens another context for a kind of prompt on first use.
    """

    llama: Any
    lock: threading.Lock
    template: Template | None
    bos_token: str
    eos_token: str
    worker: ThreadPoolExecutor
    open_context: Callable[[], Any] | None = None
    contexts: dict[str, Any] = field(default_factory=dict)

    def context(self, kind: str) -> Any:
        """The context for prompts of `kind` ("" is `llama`); call with `lock` held."""
        if not kind or self.open_context is None:
            return self.llama
        found = self.contexts.get(kind)
        if found is None:
            found = self.contexts[kind] = self.open_context()
        return found


_MODELS: dict[tuple[str, int, int | None, bool], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """Hugging Face's `tojson`: jinja2's own HTML-escapes `<`, `>` and `&`, which corrupts prompts."""
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def compile_chat_template(source: str) -> Template:
    """Compile a GGUF chat template the way Hugging Face does, inside a jinja2 sandbox."""
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)  # local time, as HF does
    return env.from_string(source)


def physical_cores() -> int:
    """Threads for generation: one per physical core available to this process.

    llama-cpp-python's own default is `cpu_count() // 2` (it assumes hyper-threading), which
    on a 2-core VM without it uses one core: measured here, 27 vs 40 tokens/s. Linux
    reports real topology; elsewhere keep llama.cpp's guess.
    """
    try:
        cpus = os.sched_getaffinity(0)
        cores = set()
        for cpu in cpus:
            topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
            cores.add(
                (
                    (topology / "physical_package_id").read_text().strip(),
                    (topology / "core_id").read_text().strip(),
                )
            )
        return max(len(cores), 1)
    except (AttributeError, OSError):
        return max((os.cpu_count() or 2) // 2, 1)


def _token_text(llama: Any, token: int) -> str:
    try:
        return bytes(llama.detokenize([token], special=True)).decode("utf-8", "replace") if token >= 0 else ""
    except Exception:  # a model without that token: templates then just get ""
        return ""


def load_model(path: str, n_ctx: int, n_threads: int | None, lazy_grammar: bool = True) -> LoadedModel:
    """The process-wide model for this file and shape, created on first use."""
    key = (path, n_ctx, n_threads, lazy_grammar)
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is not None:
            return loaded
        try:
            from llama_cpp import Llama

            from langgraph_ollama_local.llm.embedded.lazy_grammar import llama_class

            llama_type = llama_class() if lazy_grammar else Llama
        except (ImportError, OSError) as exc:
            raise ModelNotInstalledError.llama_cpp(f"{type(exc).__name__}: {exc}") from exc

        def open_context() -> Any:
            try:
                return llama_type(
                    model_path=path,
                    n_ctx=n_ctx,
                    n_threads=n_threads or physical_cores(),
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ProviderError(
                    f"llama.cpp could not load {path} ({exc}); check that it is a complete GGUF "
                    "file (`hitl doctor` verifies the packaged one)",
                    fix="hitl doctor",
                ) from exc

        # Not LlamaRAMCache for the prefixes: each state it saves copies a logits array of
        # n_batch x vocabulary floats (311 MB here) outside its capacity; a bench run grew to
        # 24 GB. A context per kind of prompt keeps the prefixes in llama.cpp's own KV cache
        # (llama-cpp-python never writes that array unless logits_all, so it stays unpaged).
        llama = open_context()
        source = llama.metadata.get("tokenizer.chat_template")
        loaded = LoadedModel(
            llama=llama,
            lock=threading.Lock(),
            template=compile_chat_template(source) if source else None,
            bos_token=_token_text(llama, llama.token_bos()),
            eos_token=_token_text(llama, llama.token_eos()),
            worker=ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{os.path.basename(path)}"),
            open_context=open_context,
        )
        _MODELS[key] = loaded
        return loaded


def to_template_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as the OpenAI-style dicts Hugging Face chat templates expect."""
    out: list[dict[str, Any]] = []
    for message in messages:
        text = str(message.text)
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": text})
        elif isinstance(message, HumanMessage):
            out.append({"role": "user", "content": text})
        elif isinstance(message, AIMessage):
            item: dict[str, Any] = {"role": "assistant", "content": text}
            if message.tool_calls:
                item["tool_calls"] = [
                    {
                        "type": "function",
                        "id": call["id"],
                        "function": {"name": call["name"], "arguments": call["args"]},
                    }
                    for call in message.tool_calls
                ]
            out.append(item)
        elif isinstance(message, ToolMessage):
            out.append(
                {"role": "tool", "content": text, "tool_call_id": message.tool_call_id, "name": message.name}
            )
        elif isinstance(message, ChatMessage):
            out.append({"role": message.role, "content": text})
        else:
            out.append({"role": "user", "content": text})
    return out


def _openai_tools(tools: Sequence[Any] | None) -> list[dict[str, Any]]:
    return [
        t if isinstance(t, dict) and t.get("type") == "function" else convert_to_openai_tool(t)
        for t in tools or ()
    ]


def forced_tool_name(tool_choice: Any, tools: list[dict[str, Any]]) -> str | None:
    """The one tool `tool_choice` forces, if it names one (or "any" of a single tool)."""
    if not tools or tool_choice in (None, "auto", "none", False):
        return None
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        return str(name) if name else None
    if isinstance(tool_choice, str) and tool_choice not in ("any", "required"):
        return tool_choice
    return str(tools[0]["function"]["name"]) if len(tools) == 1 else None


def forced_prefix(tool_choice: Any, tools: list[dict[str, Any]]) -> str:
    """What to pre-write in the assistant turn so the model must call a tool.

    Raw completion makes `tool_choice` cheap to honour: for a named tool the model only
    writes the arguments object (its grammar starts it with `{`, or a 0.5B model may
    answer `5`); for "any"/"required" it writes the name and arguments, as its grammar allows.
    """
    if not tools or tool_choice in (None, "auto", "none", False):
        return ""
    name = forced_tool_name(tool_choice, tools)
    if name:
        return f'{_TOOL_TAG}\n{{"name": {json.dumps(name)}, "arguments": '
    return f"{_TOOL_TAG}\n"


# Prose only: nothing that starts a tool call or a JSON value, and no tag anywhere.
PROSE_GRAMMAR = "root ::= [^{<[`\\x00-\\x20] [^<]*"


def _closed(schema: Any) -> Any:
    """A copy of a JSON schema whose objects accept only their declared properties, so the
    grammar cannot let the model invent an argument (the gate would refuse it anyway)."""
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema


def _arguments_schema(tool: dict[str, Any]) -> dict[str, Any]:
    parameters = tool["function"].get("parameters") or {}
    if not parameters.get("properties"):
        return {"type": "object", "properties": {}, "additionalProperties": False}
    return dict(_closed(parameters))


def grammar_for(tool_choice: Any, tools: list[dict[str, Any]]) -> str | None:
    """The GBNF text that enforces `tool_choice` (None: the model writes freely)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    if tool_choice == "none":
        return PROSE_GRAMMAR
    if not tools or tool_choice in (None, "auto", False):
        return None
    name = forced_tool_name(tool_choice, tools)
    if name is not None:
        chosen = [t for t in tools if t["function"]["name"] == name]
        if not chosen:
            return None
        return str(json_schema_to_gbnf(json.dumps(_arguments_schema(chosen[0]))))
    any_call = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"name": {"const": t["function"]["name"]}, "arguments": _arguments_schema(t)},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for t in tools
        ]
    }
    return str(json_schema_to_gbnf(json.dumps(any_call)))


def schema_grammar(json_schema: dict[str, Any]) -> str:
    """GBNF for a reply that is exactly one JSON value of `json_schema` (closed objects)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(json.dumps(_closed(json_schema))))


@functools.lru_cache(maxsize=256)
def _compiled_grammar(text: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)


def _held_from(text: str) -> int:
    """How much of streamed `text` is safe to show: everything before anything that is,
    or may still turn into, a tool call or a fenced block (so no one sees half a call)."""
    cut = len(text)
    for marker in (_TOOL_TAG, _FENCE, '{"', "[{"):
        index = text.find(marker)
        if index >= 0:
            cut = min(cut, index)
    if cut < len(text):
        return cut
    tail = text.rstrip()
    if tail.endswith(("{", "[")):  # may be the start of a bare JSON call
        return tail.rindex(tail[-1])
    for marker in (_TOOL_TAG, _FENCE):  # a partial marker at the very end
        for size in range(min(len(marker) - 1, len(text)), 0, -1):
            if text.endswith(marker[:size]):
                return len(text) - size
    return len(text)


@dataclass(frozen=True)
class _Request:
    """One call, ready for llama.cpp. `tool_names` is None when no tools are offered."""

    prompt: str  # incl. `prefix`
    prefix: str  # what `tool_choice` pre-wrote of the answer
    completion: dict[str, Any]
    tool_names: list[str] | None
    kind: str  # which context runs it (see `prompt_kind`)
    stages: tuple[Stage, ...] | None = None  # a JSON object written value by value (staged.py)


def prompt_kind(tool_choice: Any, json_schema: Any, prefix: str) -> str:
    """Prompts of one kind share long prefixes, so each kind gets its own context."""
    if json_schema is not None:
        return "schema"
    if tool_choice == "none":
        return "prose"
    return "call" if prefix else ""


def _stoppable(completion: dict[str, Any]) -> dict[str, Any]:
    """`completion` with a stop at the next token once the caller's cancel scope is set
    (`llm/cancel.py`); unchanged outside a scope. llama.cpp checks it after every token,
    streaming or not, so a stopped answer stops costing CPU at once."""
    event = current_scope()
    if event is None:
        return completion
    from llama_cpp import StoppingCriteriaList

    def stop_now(input_ids: Any, logits: Any) -> bool:
        return event.is_set()

    return {**completion, "stopping_criteria": StoppingCriteriaList([stop_now])}


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


class EmbeddedChatModel(BaseChatModel):
    """A LangChain chat model over a local GGUF file (default: packaged Qwen2.5-Coder-0.5B).

    Supports `.bind_tools()` (incl. `tool_choice`), streaming and async like `ChatOllama`.
    """

    model_path: str
    planner_model_path: str | None = None
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int = 0
    context_per_prompt_kind: bool = True
    """A llama.cpp context per kind of prompt (more memory, far fewer tokens re-evaluated)."""
    staged_json: bool = True
    """Write a structured reply's or a forced call's fixed JSON text for the model, which then
    samples only the values (`staged.py`): the same object, fewer forward passes."""
    lazy_grammar: bool = True
    """Greedy grammar sampling asks the grammar about the best token first (`lazy_grammar.py`):
    the same tokens, without a pass over the whole vocabulary per token."""

    # Small models get guided turns (agent/guided.py) unless told otherwise, and honour
    # `tool_choice` exactly (including "none": prose only), which those turns rely on.
    prefers_guided_turns: ClassVar[bool] = True
    constrains_tool_choice: ClassVar[bool] = True

    @property
    def _llm_type(self) -> str:
        return "embedded-llama-cpp"

    def planner(self) -> EmbeddedChatModel:
        """The model that plans guided turns: the planner file if set, else this model."""
        if not self.planner_model_path or self.planner_model_path == self.model_path:
            return self
        return self.model_copy(update={"model_path": self.planner_model_path, "planner_model_path": None})

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    def _loaded(self) -> LoadedModel:
        return load_model(self.model_path, self.n_ctx, self.n_threads, self.lazy_grammar)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer `tools` (LangChain tools, functions, pydantic models or OpenAI dicts)."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=_openai_tools(tools), **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: str = "function_calling",
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """`method="json_schema"` samples the reply under the schema's grammar, with no tools
        in the prompt (like Ollama's `format=`); other methods go through `tool_choice`."""
        if method != "json_schema":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        if include_raw:
            raise ValueError("include_raw is not supported with method='json_schema'")
        if isinstance(schema, dict):
            return self.bind(json_schema=schema) | JsonOutputParser()
        if isinstance(schema, type) and issubclass(schema, PydanticBaseModel):
            return self.bind(json_schema=schema.model_json_schema()) | PydanticOutputParser(
                pydantic_object=schema
            )
        raise TypeError(f"schema must be a JSON schema dict or a pydantic model, got {schema!r}")

    def render_prompt(
        self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]] | None = None
    ) -> str:
        """The exact text llama.cpp sees, from the GGUF's own chat template."""
        loaded = self._loaded()
        if loaded.template is None:
            raise ProviderError(
                f"{self.model_path} carries no chat template (tokenizer.chat_template); use an "
                "instruct/chat GGUF, or unset HITL_EMBEDDED__MODEL_PATH for the packaged model",
                fix="unset HITL_EMBEDDED__MODEL_PATH",
            )
        try:
            return loaded.template.render(
                messages=to_template_messages(messages),
                tools=tools or None,
                add_generation_prompt=True,
                bos_token=loaded.bos_token,
                eos_token=loaded.eos_token,
            )
        except TemplateError as exc:
            raise ProviderError(
                f"the chat template of {self.model_path} refused these messages: {exc}"
            ) from exc

    def _prepare(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _Request:
        tools = _openai_tools(kwargs.get("tools"))
        tool_choice = kwargs.get("tool_choice")
        json_schema = kwargs.get("json_schema")
        if tool_choice == "none" or json_schema is not None:
            tools = []
        prefix = forced_prefix(tool_choice, tools)
        grammar = grammar_for(tool_choice, tools) if json_schema is None else schema_grammar(json_schema)
        completion: dict[str, Any] = {
            "max_tokens": int(kwargs.get("max_tokens", self.max_tokens)),
            "temperature": float(kwargs.get("temperature", self.temperature)),
            "seed": self.seed,
            "stop": [*STOP, *(stop or [])],
        }
        if grammar is not None:
            completion["grammar"] = _compiled_grammar(grammar)
        stages = None
        if self.staged_json:
            forced = forced_tool_name(tool_choice, tools)
            chosen = [t for t in tools if forced and t["function"]["name"] == forced]
            target = json_schema
            if target is None and chosen:
                target = _arguments_schema(chosen[0])
            stages = object_stages(_closed(target)) if target is not None else None
        return _Request(
            prompt=self.render_prompt(messages, tools) + prefix,
            prefix=prefix,
            completion=completion,
            tool_names=[t["function"]["name"] for t in tools] if tools else None,
            kind=prompt_kind(tool_choice, json_schema, prefix) if self.context_per_prompt_kind else "",
            stages=stages,
        )

    def _too_long(self, exc: ValueError) -> ProviderError:
        return ProviderError(
            f"the conversation no longer fits the embedded model's context ({exc}); start a new thread "
            f"or raise HITL_EMBEDDED__N_CTX (now {self.n_ctx})",
            fix=f"export HITL_EMBEDDED__N_CTX={self.n_ctx * 2}",
        )

    def _message_from(
        self, raw: str, tool_names: list[str] | None, usage: UsageMetadata, finish: str | None
    ) -> AIMessage:
        """`tool_names` None: no tools were offered, so the text is an answer, not calls."""
        content, calls = parse_tool_calls(raw, tool_names) if tool_names is not None else (raw.strip(), [])
        return AIMessage(
            content=content,
            tool_calls=calls,
            usage_metadata=usage,
            response_metadata={
                "model_name": os.path.basename(self.model_path),
                "finish_reason": finish,
                "raw_text": raw,
            },
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._prepare(messages, stop, kwargs)
        loaded = self._loaded()
        with loaded.lock:
            llama = loaded.context(request.kind)
            try:
                if request.stages is not None:
                    message = self._staged_message(llama, request)
                else:
                    result = llama.create_completion(request.prompt, **_stoppable(request.completion))
            except ValueError as exc:
                if "context window" in str(exc):
                    raise self._too_long(exc) from exc
                raise
        if cancel_requested():
            raise GenerationCancelled("the answer was stopped")
        if request.stages is None:
            choice = result["choices"][0]
            counts = result.get("usage") or {}
            usage = UsageMetadata(
                input_tokens=int(counts.get("prompt_tokens", 0)),
                output_tokens=int(counts.get("completion_tokens", 0)),
                total_tokens=int(counts.get("total_tokens", 0)),
            )
            message = self._message_from(
                request.prefix + choice["text"], request.tool_names, usage, choice.get("finish_reason")
            )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _staged_message(self, llama: Any, request: _Request) -> AIMessage:
        """The reply of a staged request (see `staged.py`); call with the model's lock held."""
        assert request.stages is not None
        base = {k: v for k, v in request.completion.items() if k not in ("grammar", "stop", "max_tokens")}

        def sample(
            prompt: str, schema: Mapping[str, Any], tail: str, budget: int
        ) -> Iterator[tuple[str, str | None]]:
            stream = llama.create_completion(
                prompt,
                stream=True,
                grammar=_compiled_grammar(stage_grammar(schema_grammar(dict(schema)), tail)),
                max_tokens=budget,
                stop=[],  # the value's grammar bounds it; stop strings would only hold text back
                **_stoppable(base),
            )
            try:
                for part in stream:
                    choice = part["choices"][0]
                    yield str(choice["text"]), choice.get("finish_reason")
            finally:
                stream.close()  # cut at the completing token: it is never evaluated

        written: StagedResult = write_object(
            request.prompt, request.stages, sample, int(request.completion["max_tokens"])
        )
        prompt_tokens = len(llama.tokenize(request.prompt.encode("utf-8"), add_bos=False, special=True))
        usage = UsageMetadata(
            input_tokens=prompt_tokens,
            output_tokens=written.completion_tokens,
            total_tokens=prompt_tokens + written.completion_tokens,
        )
        return self._message_from(
            request.prefix + written.text, request.tool_names, usage, written.finish_reason
        )

    def _stream_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatGenerationChunk]:
        """Visible text token by token; tool calls as tool_call_chunks in one last chunk."""
        request = self._prepare(messages, stop, kwargs)
        if request.stages is not None:  # JSON written value by value: nothing in it is for display
            message = self._generate(messages, stop, None, **kwargs).generations[0].message
            calls = getattr(message, "tool_calls", [])
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=message.content,
                    tool_call_chunks=[
                        ToolCallChunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
                        for i, c in enumerate(calls)
                    ],
                    usage_metadata=getattr(message, "usage_metadata", None),
                    response_metadata=message.response_metadata,
                    chunk_position="last",
                )
            )
            return
        loaded = self._loaded()
        raw, start, shown, finish = "", -1, 0, None
        with loaded.lock:
            llama = loaded.context(request.kind)
            stream = None
            try:
                stream = llama.create_completion(
                    request.prompt, stream=True, **_stoppable(request.completion)
                )
                for part in stream:
                    choice = part["choices"][0]
                    raw += choice["text"]
                    finish = choice.get("finish_reason") or finish
                    if (cancel is not None and cancel.is_set()) or cancel_requested():
                        break
                    if request.prefix:  # a forced call: nothing in it is for display
                        continue
                    if start < 0:  # leading whitespace is not worth a chunk
                        stripped = len(raw) - len(raw.lstrip())
                        if stripped == len(raw):
                            continue
                        start = shown = stripped
                    limit = len(raw) if request.tool_names is None else start + _held_from(raw[start:])
                    if limit > shown:
                        yield ChatGenerationChunk(message=AIMessageChunk(content=raw[shown:limit]))
                        shown = limit
            except ValueError as exc:
                if "context window" in str(exc):
                    raise self._too_long(exc) from exc
                raise
            finally:
                if stream is not None:
                    stream.close()  # also when the consumer stopped early: free llama.cpp's generator
            if cancel_requested():
                raise GenerationCancelled("the answer was stopped")
            input_tokens = len(llama.tokenize(request.prompt.encode("utf-8"), add_bos=False, special=True))
            output_tokens = len(llama.tokenize(raw.encode("utf-8"), add_bos=False, special=True))
        final = self._message_from(
            request.prefix + raw,
            request.tool_names,
            UsageMetadata(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                total_tokens=input_tokens + output_tokens,
            ),
            finish,
        )
        content = str(final.content)
        visible = raw[max(start, 0) : shown]
        tail = content[_common_prefix(content, visible) :]
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=tail,
                tool_call_chunks=[
                    ToolCallChunk(name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=i)
                    for i, call in enumerate(final.tool_calls)
                ],
                usage_metadata=final.usage_metadata,
                response_metadata=final.response_metadata,
                chunk_position="last",
            )
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._stream_chunks(messages, stop, kwargs):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """On this model's own worker thread: calls queue there, not in the shared executor."""
        loaded = await self._aloaded()
        return await asyncio.get_running_loop().run_in_executor(
            loaded.worker, lambda: self._generate(messages, stop, None, **kwargs)
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Run the sync stream on the model's worker thread and hand chunks over a queue."""
        loop = asyncio.get_running_loop()
        loaded = await self._aloaded()
        queue: asyncio.Queue[ChatGenerationChunk | BaseException | None] = asyncio.Queue()
        cancel = threading.Event()

        def hand_over(item: ChatGenerationChunk | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def produce() -> None:
            try:
                for chunk in self._stream_chunks(messages, stop, kwargs, cancel):
                    hand_over(chunk)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                hand_over(exc)
            else:
                hand_over(None)

        done = loop.run_in_executor(loaded.worker, produce)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if run_manager is not None:
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item
        finally:
            cancel.set()  # a consumer that stops early also stops generation
            await asyncio.shield(done)

    async def _aloaded(self) -> LoadedModel:
        """The loaded model; the first load (seconds) runs off the event loop."""
        loaded = _MODELS.get((self.model_path, self.n_ctx, self.n_threads, self.lazy_grammar))
        return loaded if loaded is not None else await asyncio.to_thread(self._loaded)
