"""Where a HITL cycle's time goes in our service: `hitl serve` under pyinstrument.

Starts the service under `python -m pyinstrument` (pip install pyinstrument), drives N
sequential /chat + /approve cycles, stops it with SIGINT so the profile is written, and
prints the heaviest frames (idle event-loop time filtered out). Not part of `make bench`.

    .venv/bin/python bench/profile_service.py [--cycles 200] [--db sqlite|postgres] [--no-profiler]

`--no-profiler` skips pyinstrument and prints only the SQL counts (by statement and by call
site), which do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import BENCH, DEFAULT_PG, postgres_db
from hitl_http import Server, cycle_chat, free_port, make_token, wait_healthy


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--out", default=None, help="where the text profile goes")
    parser.add_argument("--no-profiler", action="store_true", help="SQL counts only, without pyinstrument")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hitl-profile-"))
    db = (
        f"sqlite:///{home / 'hitl.sqlite'}"
        if args.db == "sqlite"
        else postgres_db(args.postgres, "hitl_bench_profile")
    )
    assert db
    env = {
        **os.environ,
        "HITL_HOME": str(home),
        # the default per-user limits would throttle the profile, not measure it (as hitl_http.py)
        "HITL_AUTH__DECISION_RATE": "1000000/minute",
        "HITL_AUTH__RUN_RATE": "1000000/minute",
        "HITL_AUTH__MAX_ACTIVE_RUNS": "1000000",
    }
    token = make_token(db, env)
    port = free_port()
    out = Path(args.out or home / "profile.txt")
    log = home / "serve.log"
    raw = home / "profile.json"
    env["HITL_BENCH_SQL_COUNTS"] = str(home / "sql_counts.json")
    profiler = [] if args.no_profiler else ["-m", "pyinstrument", "--renderer", "json", "-o", str(raw)]
    cmd = [
        sys.executable, *profiler,
        str(BENCH / "_serve_instrumented.py"), "serve", "--port", str(port), "--db", db,
        "--graph", f"{BENCH / 'service_graph.py'}:graph",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server("ours", f"http://127.0.0.1:{port}", proc, {"Authorization": f"Bearer {token}"}, log)
    wait_healthy(proc, f"{server.base}/healthz", log)

    async def drive() -> float:
        async with httpx.AsyncClient(timeout=60) as http:
            started = time.perf_counter()
            for _ in range(args.cycles):
                await cycle_chat(http, server)
            return time.perf_counter() - started

    seconds = asyncio.run(drive())
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    report = (
        ["  (not profiled: --no-profiler)"]
        if args.no_profiler
        else summarize(json.loads(raw.read_text()), args.cycles)
    )
    dumped = json.loads((home / "sql_counts.json").read_text())
    sql, sql_s, sites = dumped["counts"], dumped["seconds"], dumped.get("sites", {})
    sql_total = sum(n for k, n in sql.items() if k != "COMMIT")
    lines = [
        f"{args.cycles} sequential /chat + /approve cycles on {args.db}: {seconds:.2f} s "
        f"({seconds / args.cycles * 1000:.1f} ms/cycle under the profiler)",
        "",
        "Inclusive main-thread time per cycle (ms) of the heaviest functions (idle loop excluded):",
        *report,
        "",
        f"Store SQL statements per cycle: {sql_total / args.cycles:.1f}, {sql.get('COMMIT', 0) / args.cycles:.1f} commits; "
        f"{sum(sql_s.values()) / args.cycles * 1000:.1f} ms/cycle inside statement execution (wall, incl. driver thread hop; "
        "token creation and migrations included; LangGraph's checkpointer is not counted here)",
        "    count/cycle  ms/cycle  statement",
        *(
            f"  {n / args.cycles:8.2f}  {sql_s.get(k, 0) / args.cycles * 1000:8.2f}  {k}"
            for k, n in list(sql.items())[:25]
        ),
        "",
        "By call site (statement  @ the innermost functions of ours that issued it), per cycle:",
        *(f"  {n / args.cycles:8.2f}  {k}" for k, n in sites.items() if n / args.cycles >= 0.05),
    ]
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def summarize(data: dict[str, Any], cycles: int, top: int = 45) -> list[str]:
    """Inclusive time per function (recursion counted once), biggest first."""
    totals: dict[str, float] = {}

    def walk(node: dict[str, Any], stack: set[str]) -> None:
        key = f"{node['function']}  {node['file_path_short']}:{node['line_no']}"
        if key not in stack:
            totals[key] = totals.get(key, 0.0) + node["time"]
        for child in node.get("children", ()):
            walk(child, stack | {key})

    walk(data["root_frame"], set())
    idle = sum(t for k, t in totals.items() if k.startswith("[self]") and "asyncio" in k)
    keep = [
        (k, t)
        for k, t in totals.items()
        if not k.startswith(("[self]", "<module>", "_run", "run ", "main "))
        and (
            "langgraph_ollama_local" in k
            or "langgraph/" in k
            or "sqlalchemy" in k
            or "fastapi" in k
            or "starlette" in k
            or "uvicorn/protocols" in k
            or "aiosqlite" in k
            or "psycopg" in k
            or "pydantic" in k
            or "langchain_core" in k
        )
    ]
    keep.sort(key=lambda kt: -kt[1])
    out = [f"  (idle event loop: {idle / cycles * 1000:.1f} ms/cycle)"]
    out += [f"  {t / cycles * 1000:7.2f}  {k}" for k, t in keep[:top]]
    return out


if __name__ == "__main__":
    main()
