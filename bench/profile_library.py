"""Where our gated graph spends the time raw LangGraph does not: pyinstrument over N async
HITL cycles of each (in-memory checkpointer, so only framework + gate CPU shows). Not part
of `make bench`.

    .venv/bin/python bench/profile_library.py [--cycles 300]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import our_graph, raw_graph
from hitl_cycle import acycle
from langgraph.checkpoint.memory import InMemorySaver
from pyinstrument import Profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=300)
    args = parser.parse_args()
    for name, graph, keyed in (("ours", our_graph(InMemorySaver()), True), ("raw", raw_graph(InMemorySaver()), False)):

        async def run(graph: object = graph, keyed: bool = keyed) -> None:
            for _ in range(args.cycles):
                await acycle(graph, keyed)

        asyncio.run(run())  # warm-up
        profiler = Profiler(async_mode="disabled")
        started = time.perf_counter()
        profiler.start()
        asyncio.run(run())
        profiler.stop()
        seconds = time.perf_counter() - started
        print(f"=== {name}: {seconds / args.cycles * 1000:.2f} ms/cycle (profiled)")
        print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False, time="percent_of_total")[:6000])


if __name__ == "__main__":
    main()
