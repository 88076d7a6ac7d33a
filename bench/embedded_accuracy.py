"""Embedded model: does it pick the right tool? First-call and per-turn latency, tokens/s.

Runs the real offline model (llama.cpp, Qwen2.5-Coder-0.5B Q4_K_M) through our provider,
bound to the agent's tools with the agent's system prompt, on 24 prompts: email requests,
weather questions, and chit-chat that should call no tool. Prints a table.

    .venv/bin/python bench/embedded_accuracy.py
"""

from __future__ import annotations

import statistics
import time

from langchain_core.messages import HumanMessage, SystemMessage

from langgraph_ollama_local import LocalAgentConfig
from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.agent.nodes import DEFAULT_SYSTEM_PROMPT
from langgraph_ollama_local.llm import create_chat_model

CASES: list[tuple[str, str | None]] = [
    ("Send an email to bob@example.com saying hi", "send_email"),
    ("Email alice@example.com that the meeting moved to 3pm", "send_email"),
    ("Please write to carol@corp.org with subject Invoice and tell her it is paid", "send_email"),
    ("Notify dave@example.net by email that the build failed", "send_email"),
    ("Send a message to erin@example.com: lunch is at noon", "send_email"),
    ("Can you email frank@example.com the word 'approved'?", "send_email"),
    ("Mail grace@example.org to say thanks for the report", "send_email"),
    ("Shoot an email over to heidi@example.com asking for the slides", "send_email"),
    ("What's the weather in Paris?", "get_weather"),
    ("How is the weather in Tokyo today?", "get_weather"),
    ("Is it raining in London?", "get_weather"),
    ("Tell me the weather for Berlin", "get_weather"),
    ("Weather forecast for New York please", "get_weather"),
    ("Do I need an umbrella in Seattle? Check the weather.", "get_weather"),
    ("What's the temperature in Madrid right now?", "get_weather"),
    ("Check the weather in Sydney", "get_weather"),
    ("Hello! How are you?", None),
    ("What is 2 + 2?", None),
    ("Tell me a short joke", None),
    ("Thanks, that is all", None),
    ("What does HITL stand for?", None),
    ("Say good morning", None),
    ("Write a haiku about autumn", None),
    ("Who are you?", None),
]


def main() -> None:
    config = LocalAgentConfig(provider="embedded")
    started = time.perf_counter()
    model = create_chat_model(config).bind_tools(default_tools(config))
    rows, latencies, tokens, token_seconds = [], [], 0, 0.0
    first_call = None
    for prompt, expected in CASES:
        t0 = time.perf_counter()
        reply = model.invoke([SystemMessage(DEFAULT_SYSTEM_PROMPT), HumanMessage(prompt)])
        elapsed = time.perf_counter() - t0
        if first_call is None:
            first_call = time.perf_counter() - started
        else:
            latencies.append(elapsed)
        chosen = reply.tool_calls[0]["name"] if reply.tool_calls else None
        out_tokens = (reply.usage_metadata or {}).get("output_tokens", 0)
        tokens += out_tokens
        token_seconds += elapsed
        rows.append((prompt, expected, chosen, chosen == expected, elapsed))
    right = sum(r[3] for r in rows)
    by_kind = {}
    for label, want in (("email", "send_email"), ("weather", "get_weather"), ("no tool", None)):
        subset = [r for r in rows if r[1] == want]
        by_kind[label] = f"{sum(r[3] for r in subset)}/{len(subset)}"
    print(f"{'prompt':<62} {'expected':<12} {'chosen':<12} ok   s")
    for prompt, expected, chosen, ok, elapsed in rows:
        print(
            f"{prompt[:61]:<62} {expected or '-':<12} {chosen or '-':<12} {'✓' if ok else '✗'}  {elapsed:5.2f}"
        )
    print()
    print(
        f"tool choice accuracy   {right}/{len(rows)} ({100 * right / len(rows):.0f}%)   "
        + "  ".join(f"{k} {v}" for k, v in by_kind.items())
    )
    print(f"first call (incl. load) {first_call:.2f} s")
    print(
        f"per-turn latency        median {statistics.median(latencies):.2f} s, p90 {sorted(latencies)[int(0.9 * len(latencies))]:.2f} s"
    )
    print(
        f"generation              {tokens} tokens in {token_seconds:.1f} s = {tokens / token_seconds:.1f} tokens/s"
    )


if __name__ == "__main__":
    main()
