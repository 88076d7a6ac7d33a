"""The raw graph (bench/raw_graph.py) for `langgraph dev`: compiled without a checkpointer;
the dev server supplies its own (in-memory) one."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from raw_graph import build_raw

graph = build_raw().compile()
