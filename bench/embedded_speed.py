"""Embedded model speed: our provider vs raw llama_cpp on the same model and prompt.

Measures what the provider layer costs on top of llama.cpp: template rendering, tool-call
parsing, LangChain's message/callback machinery, the streaming hold-back. Both sides get
the identical prompt text (rendered once by our provider from the GGUF's own template),
the same sampling settings (temperature 0, seed, max_tokens, stop) and their own
`llama_cpp.Llama` of the same file, and run alternately so machine noise hits both.

    .venv/bin/python bench/embedded_speed.py [--rounds 4] [--threads N]

Prints per-prompt latency and tokens/s for invoke and stream, and the provider/raw ratio
(1.00 = no overhead). Stream rows also show time to the first chunk; for a tool call ours
comes at the end by design (a half-written call is never shown), raw's at the first token.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from llama_cpp import Llama

from langgraph_ollama_local import LocalAgentConfig
from langgraph_ollama_local.agent.nodes import DEFAULT_SYSTEM_PROMPT
from langgraph_ollama_local.agent.tools import default_tools
from langgraph_ollama_local.llm import EmbeddedChatModel, create_chat_model
from langgraph_ollama_local.llm.embedded.chat_model import STOP, physical_cores

PROMPTS = [
    "Send an email to bob@example.com saying that lunch is at noon",
    "What's the weather in Paris?",
    "Write a haiku about autumn",
    "Explain in three sentences what a checkpoint is in a workflow engine.",
]


@dataclass
class Sample:
    seconds: float
    tokens: int
    first_chunk: float | None = None
    text: str = ""


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def tokens_per_s(self) -> float:
        return sum(s.tokens for s in self.samples) / sum(s.seconds for s in self.samples)

    @property
    def median_tokens(self) -> float:
        return statistics.median(s.tokens for s in self.samples)

    @property
    def median_first(self) -> float:
        return statistics.median(s.first_chunk or 0.0 for s in self.samples)


def timed(run: Callable[[], Sample]) -> Sample:
    t0 = time.perf_counter()
    sample = run()
    sample.seconds = time.perf_counter() - t0
    if sample.first_chunk is not None:
        sample.first_chunk -= t0
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    config = LocalAgentConfig(provider="embedded", embedded={"n_threads": args.threads})
    model = create_chat_model(config)
    assert isinstance(model, EmbeddedChatModel)
    tools = default_tools(config)
    bound = model.bind_tools(tools)
    openai_tools = bound.kwargs["tools"]  # type: ignore[attr-defined]
    threads = (
        args.threads or physical_cores()
    )  # what our provider uses; same for raw, to compare like with like
    raw = Llama(model_path=model.model_path, n_ctx=model.n_ctx, n_threads=threads, verbose=False)
    sampling: dict[str, Any] = {
        "max_tokens": model.max_tokens,
        "temperature": model.temperature,
        "seed": model.seed,
        "stop": list(STOP),
    }

    def ours_invoke(messages: list[BaseMessage]) -> Sample:
        reply = bound.invoke(messages)
        return Sample(
            0.0,
            (reply.usage_metadata or {}).get("output_tokens", 0),
            text=reply.response_metadata["raw_text"],
        )

    def ours_stream(messages: list[BaseMessage]) -> Sample:
        first, total = None, None
        for chunk in bound.stream(messages):
            if first is None and (chunk.content or chunk.tool_call_chunks):
                first = time.perf_counter()
            total = chunk if total is None else total + chunk
        tokens = (total.usage_metadata or {}).get("output_tokens", 0) if total else 0
        return Sample(0.0, tokens, first)

    def raw_invoke(prompt: str) -> Sample:
        result = raw.create_completion(prompt, **sampling)
        return Sample(0.0, result["usage"]["completion_tokens"], text=result["choices"][0]["text"])

    def raw_stream(prompt: str) -> Sample:
        first, text = None, ""
        for part in raw.create_completion(prompt, stream=True, **sampling):
            text += part["choices"][0]["text"]
            if text and first is None:
                first = time.perf_counter()
        tokens = len(raw.tokenize(text.encode(), add_bos=False, special=True))  # as our stream counts them
        return Sample(0.0, tokens, first)

    conversations = [[SystemMessage(DEFAULT_SYSTEM_PROMPT), HumanMessage(p)] for p in PROMPTS]
    prompts = [model.render_prompt(m, openai_tools) for m in conversations]

    t0 = time.perf_counter()  # warm-up: loads both models
    bound.invoke(conversations[0])
    raw.create_completion(prompts[0], **sampling)
    print(f"warm-up (both models loaded) {time.perf_counter() - t0:.2f} s", file=sys.stderr)

    results: dict[tuple[str, str, int], Series] = {}
    same_text: list[bool] = []
    for round_ in range(args.rounds):
        for i, (messages, prompt) in enumerate(zip(conversations, prompts, strict=True)):
            # Each Llama sees the same call sequence, so prompt-cache reuse is equal on both
            # sides; who goes first alternates so background load hits both alike.
            for mode in ("invoke", "stream"):
                runs = {
                    "ours": (lambda m=messages: ours_invoke(m))
                    if mode == "invoke"
                    else (lambda m=messages: ours_stream(m)),
                    "raw": (lambda p=prompt: raw_invoke(p))
                    if mode == "invoke"
                    else (lambda p=prompt: raw_stream(p)),
                }
                order = ("ours", "raw") if (round_ + i) % 2 == 0 else ("raw", "ours")
                samples = {who: timed(runs[who]) for who in order}
                for who, sample in samples.items():
                    results.setdefault((mode, who, i), Series()).samples.append(sample)
                if mode == "invoke":
                    same_text.append(samples["ours"].text == samples["raw"].text)
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    print(
        f"{'mode':<7} {'prompt':<44} {'tokens':>6} {'ours s':>7} {'raw s':>7} {'ours t/s':>9} {'raw t/s':>8} {'1st ours':>9} {'1st raw':>8}"
    )
    for mode in ("invoke", "stream"):
        for i, prompt in enumerate(PROMPTS):
            ours, theirs = results[(mode, "ours", i)], results[(mode, "raw", i)]
            firsts = (
                f"{ours.median_first:9.2f} {theirs.median_first:8.2f}"
                if mode == "stream"
                else f"{'':>9} {'':>8}"
            )
            print(
                f"{mode:<7} {prompt[:43]:<44} {ours.median_tokens:6.0f} {ours.median_s:7.2f} {theirs.median_s:7.2f} "
                f"{ours.tokens_per_s:9.1f} {theirs.tokens_per_s:8.1f} {firsts}"
            )
    print()
    print(
        f"{'mode':<7} {'ours t/s':>9} {'raw t/s':>8} {'t/s ratio':>10} "
        f"{'ours turn s':>12} {'raw turn s':>11} {'latency ratio':>14}"
    )
    for mode in ("invoke", "stream"):
        ours_all = Series([s for i in range(len(PROMPTS)) for s in results[(mode, "ours", i)].samples])
        raw_all = Series([s for i in range(len(PROMPTS)) for s in results[(mode, "raw", i)].samples])
        # Per-turn latency: the mean over prompts of each prompt's median (robust to one slow
        # sample, and not dominated by which prompt happens to sit in the middle).
        ours_turn = statistics.mean(results[(mode, "ours", i)].median_s for i in range(len(PROMPTS)))
        raw_turn = statistics.mean(results[(mode, "raw", i)].median_s for i in range(len(PROMPTS)))
        print(
            f"{mode:<7} {ours_all.tokens_per_s:9.1f} {raw_all.tokens_per_s:8.1f} "
            f"{ours_all.tokens_per_s / raw_all.tokens_per_s:10.2f} {ours_turn:12.2f} {raw_turn:11.2f} "
            f"{ours_turn / raw_turn:14.2f}"
        )
    print(f"\nllama.cpp threads: {threads} (both sides)")
    print(f"identical generated text (invoke, ours vs raw): {sum(same_text)}/{len(same_text)}")
    print(
        "t/s ratio = ours/raw (1.00 = no overhead); latency ratio = ours/raw per-turn wall time "
        "(mean over prompts of the median of rounds)"
    )


if __name__ == "__main__":
    main()
