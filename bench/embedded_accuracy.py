"""Embedded model: does it pick the right tool? First-call and per-turn latency, tokens/s.

Runs the real offline model (llama.cpp in-process, Qwen2.5-Coder-0.5B-Instruct Q4_K_M)
through our provider (`create_chat_model` + `.bind_tools`), with the agent's own tools
and system prompt, on prompts of four kinds: clear email requests, weather questions,
both in one request, and chit-chat that should call no tool. Nothing is executed: only
the model's first reply to each prompt is scored.

    .venv/bin/python bench/embedded_accuracy.py [--threads N]

"Right" means the tool names called, in order and de-duplicated, are one of the accepted
answers: for "weather, then email it" the weather must come first (the email needs it),
so [get_weather] and [get_weather, send_email] both count; for chit-chat, no call.
Latency is wall time per `invoke` (prompt processing + generation); tokens/s is output
tokens over that wall time, so it includes prompt processing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

from langchain_core.messages import HumanMessage, SystemMessage

from langgraph_ollama_local import LocalAgentConfig
from langgraph_ollama_local.agent.nodes import DEFAULT_SYSTEM_PROMPT
from langgraph_ollama_local.agent.tools import default_tools
from langgraph_ollama_local.llm import create_chat_model
from langgraph_ollama_local.llm.embedded.chat_model import physical_cores

EMAIL = ("send_email",)
WEATHER = ("get_weather",)
NONE: tuple[str, ...] = ()
BOTH = (("get_weather",), ("get_weather", "send_email"))


@dataclass(frozen=True)
class Case:
    kind: str
    prompt: str
    accept: tuple[tuple[str, ...], ...]


CASES = [
    Case("email", "Send an email to bob@example.com saying hi", (EMAIL,)),
    Case("email", "Email alice@example.com that the meeting moved to 3pm", (EMAIL,)),
    Case("email", "Please write to carol@corp.org with subject Invoice and tell her it is paid", (EMAIL,)),
    Case("email", "Notify dave@example.net by email that the build failed", (EMAIL,)),
    Case("email", "Send a message to erin@example.com: lunch is at noon", (EMAIL,)),
    Case("email", "Can you email frank@example.com the word 'approved'?", (EMAIL,)),
    Case("email", "Mail grace@example.org to say thanks for the report", (EMAIL,)),
    Case("email", "Shoot an email over to heidi@example.com asking for the slides", (EMAIL,)),
    Case("weather", "What's the weather in Paris?", (WEATHER,)),
    Case("weather", "How is the weather in Tokyo today?", (WEATHER,)),
    Case("weather", "Is it raining in London?", (WEATHER,)),
    Case("weather", "Tell me the weather for Berlin", (WEATHER,)),
    Case("weather", "Weather forecast for New York please", (WEATHER,)),
    Case("weather", "Do I need an umbrella in Seattle? Check the weather.", (WEATHER,)),
    Case("weather", "What's the temperature in Madrid right now?", (WEATHER,)),
    Case("weather", "Check the weather in Sydney", (WEATHER,)),
    Case("both", "Check the weather in Rome and email it to ivan@example.com", BOTH),
    Case("both", "Find out the weather in Oslo, then send judy@example.com an email about it", BOTH),
    Case("both", "Get the weather for Lisbon and mail the forecast to ken@example.org", BOTH),
    Case("no tool", "Hello! How are you?", (NONE,)),
    Case("no tool", "What is 2 + 2?", (NONE,)),
    Case("no tool", "Tell me a short joke", (NONE,)),
    Case("no tool", "Thanks, that is all", (NONE,)),
    Case("no tool", "What does HITL stand for?", (NONE,)),
    Case("no tool", "Say good morning", (NONE,)),
    Case("no tool", "Write a haiku about autumn", (NONE,)),
    Case("no tool", "Who are you?", (NONE,)),
]


@dataclass
class Row:
    case: Case
    called: tuple[str, ...]
    seconds: float
    output_tokens: int

    @property
    def ok(self) -> bool:
        return self.called in self.case.accept


def dedupe(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: its own)")
    args = parser.parse_args()

    config = LocalAgentConfig(provider="embedded", embedded={"n_threads": args.threads})
    started = time.perf_counter()
    model = create_chat_model(config).bind_tools(default_tools(config))
    rows: list[Row] = []
    first_call = 0.0
    for index, case in enumerate(CASES):
        t0 = time.perf_counter()
        reply = model.invoke([SystemMessage(DEFAULT_SYSTEM_PROMPT), HumanMessage(case.prompt)])
        elapsed = time.perf_counter() - t0
        if index == 0:
            first_call = time.perf_counter() - started
        usage = reply.usage_metadata or {}
        rows.append(
            Row(case, dedupe([c["name"] for c in reply.tool_calls]), elapsed, usage.get("output_tokens", 0))
        )
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    print(f"{'kind':<8} {'prompt':<60} {'accepted':<36} {'called':<24} ok  {'s':>5}")
    for row in rows:
        accepted = " | ".join("+".join(a) or "-" for a in row.case.accept)
        called = "+".join(row.called) or "-"
        mark = "yes" if row.ok else "NO"
        print(
            f"{row.case.kind:<8} {row.case.prompt[:59]:<60} {accepted:<36} {called:<24} {mark:<3} {row.seconds:5.2f}"
        )

    right = sum(r.ok for r in rows)
    turns = [r.seconds for r in rows[1:]]  # the first call also loads the model
    tokens = sum(r.output_tokens for r in rows)
    seconds = sum(r.seconds for r in rows)
    kinds = dict.fromkeys(c.kind for c in CASES)
    print()
    print(f"{'metric':<34} value")
    print(f"{'tool choice accuracy':<34} {right}/{len(rows)} ({100 * right / len(rows):.0f}%)")
    for kind in kinds:
        subset = [r for r in rows if r.case.kind == kind]
        print(f"{'  ' + kind:<34} {sum(r.ok for r in subset)}/{len(subset)}")
    print(f"{'first call (incl. model load)':<34} {first_call:.2f} s")
    print(f"{'per-turn latency, median':<34} {statistics.median(turns):.2f} s")
    print(f"{'per-turn latency, p90':<34} {sorted(turns)[int(0.9 * (len(turns) - 1))]:.2f} s")
    print(
        f"{'output tokens/s (incl. prompt)':<34} {tokens / seconds:.1f} ({tokens} tokens in {seconds:.1f} s)"
    )
    print(f"{'cpus / llama.cpp threads':<34} {os.cpu_count()} / {args.threads or physical_cores()}")


if __name__ == "__main__":
    main()
