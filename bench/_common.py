"""Shared pieces of the benchmarks: the graphs compared, timing helpers, tables, results.

Every bench script can run alone; `bench/run_all.py` runs them all and rebuilds
`bench/RESULTS.md` from the JSON each one leaves in `bench/.results/`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from raw_graph import SENT, ScriptedChatModel, State, build_raw, email_assistant_script, send_email

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS_DIR = BENCH / ".results"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
__all__ = ["SENT", "State", "build_raw", "send_email"]


def raw_graph(checkpointer: Any) -> Any:
    return build_raw().compile(checkpointer=checkpointer)


def our_graph(checkpointer: Any) -> Any:
    return create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        [send_email],
        policy=ApprovalPolicy.require_approval_for("send_email"),
        checkpointer=checkpointer,
        system_prompt=None,
    )


# -- timing ---------------------------------------------------------------------------------


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000 if samples else float("nan")


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


# -- output ---------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table, also readable on a terminal."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([line, rule, *body])


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in (
        "langgraph",
        "langgraph-checkpoint",
        "langgraph-checkpoint-sqlite",
        "langgraph-checkpoint-postgres",
        "langchain-core",
        "fastapi",
        "uvicorn",
        "sqlalchemy",
        "psycopg",
        "llama-cpp-python",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def machine() -> dict[str, Any]:
    model, cores = "unknown", 0
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                cores += 1
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu": model,
        "logical_cpus": cores,
        "memory": mem,
        "os": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        # other work on the machine skews timings: a load average well above 0 says so
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": versions(),
    }


def postgres_db(base_url: str, name: str) -> str | None:
    """A fresh database `name` on the server of `base_url` (dropped first); None if unreachable."""
    try:
        import psycopg

        with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL unavailable at {base_url}: {exc}", file=sys.stderr)
        return None
    head, _, _ = base_url.rpartition("/")
    return f"{head}/{name}"
