"""Run every benchmark and rebuild bench/RESULTS.md: one command, `make bench`.

    .venv/bin/python bench/run_all.py [--quick] [--skip-embedded] [--skip-langgraph-dev] [--skip-aegra]
                                      [--postgres URL|''] [--only NAME,...]

Each bench runs in its own process (the tables it prints are shown as they come and copied
into RESULTS.md verbatim); its numbers also land in bench/.results/NAME.json, from which
the "aims" summary at the top of RESULTS.md is computed. `--quick` is a short smoke mode
(minutes): fewer cycles, 1k/10k/100k inbox but LangGraph scan at 1k only, 10/50 turns,
one embedded round and no embedded accuracy run.
Analysis and profiles: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import BENCH, DEFAULT_PG, RESULTS_DIR, fmt, load, machine, table

BENCHES = {
    # name: (script, title, extra args in quick mode, takes --postgres)
    "library": ("hitl_cycle.py", "1a/1c. HITL cycle: our library vs raw LangGraph (same checkpointer)", True),
    "http": ("hitl_http.py", "1b/1d. HITL cycle over HTTP: our service vs `langgraph dev`", True),
    "inbox": ("inbox.py", "2. Inbox query latency vs LangGraph's own APIs", True),
    "growth": ("growth.py", "3. Growth with conversation length", False),
    "embedded": ("embedded_speed.py", "4. Embedded model: ours vs raw llama.cpp", False),
    "accuracy": ("embedded_accuracy.py", "4b. Embedded model: tool-choice accuracy and latency", False),
    "agent": ("agent_quality.py", "5. The agent end to end on the offline models (83 prompts)", False),
    "peers": ("peers.py", "6. LangGraph's client (`langgraph-sdk`) on every server: ours vs `langgraph dev` vs Aegra", True),
}


def run(name: str, args: argparse.Namespace) -> tuple[str, float, int]:
    script, _, pg = BENCHES[name]
    cmd = [sys.executable, str(BENCH / script)]
    if name == "embedded":
        cmd += ["--rounds", "1" if args.quick else "3"]
    elif name == "agent":
        cmd += ["--also-ollama"] + (["--kinds", "weather,chit-chat"] if args.quick else [])
    elif args.quick and name != "accuracy":
        cmd.append("--quick")
    if pg:
        cmd += ["--postgres", args.postgres]
    if name in ("http", "peers") and args.skip_langgraph_dev:
        cmd.append("--skip-langgraph-dev")
    if name == "peers" and args.skip_aegra:
        cmd.append("--skip-aegra")
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=BENCH.parent, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out = [f"(load average at start: {load})\n"]
    print(out[0], end="")
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        out.append(line)
    code = proc.wait()
    result = ("".join(out), time.perf_counter() - started, code)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.out.json").write_text(json.dumps(result))
    return result


def previous_outputs() -> dict[str, tuple[str, float, int]]:
    """What earlier runs left (an `--only` run updates its sections, keeps the others)."""
    found = {}
    for name in BENCHES:
        path = RESULTS_DIR / f"{name}.out.json"
        if path.is_file():
            text, seconds, code = json.loads(path.read_text())
            found[name] = (text, seconds, code)
    return found


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def aims() -> list[list[Any]]:
    """The issue's aims, computed from the JSON results (None where a bench did not run)."""
    rows: list[list[Any]] = []
    lib, http, inbox, growth = load("library"), load("http"), load("inbox"), load("growth")
    agent = (load("agent_quality") or {}).get("embedded")
    if agent:
        rows.append(["agent end to end, embedded (accuracy)", ">= 0.95", agent["accuracy"], "met" if agent["accuracy"] >= 0.95 else "MISSED"])
        for key, label in (("needless_sensitive_requests", "needless sensitive approval requests"), ("guard_messages", "guard messages shown")):
            rows.append([f"agent: {label}", "0", float(agent[key]), "met" if agent[key] == 0 else "MISSED"])
        for key, aim in (("median_turn_seconds", 2.5), ("p90_turn_seconds", 6.0)):
            value = agent.get(key)
            rows.append([f"agent: {key.replace('_', ' ')}", f"<= {aim}", value, "met" if value is not None and value <= aim else "MISSED"])
    if lib and http:
        for db in ("sqlite", "postgres"):
            ours = http["latency"].get(f"ours chat {db}")
            raw = lib["latency"].get(db, {}).get("raw")
            r = ratio(ours, raw)
            rows.append([f"service cycle / raw LangGraph cycle ({db}, latency)", "<= 1.3", r, "met" if r and r <= 1.3 else "MISSED"])
    if lib:
        for db, lat in lib["latency"].items():
            r = ratio(lat["ours_runner"], lat["raw"])
            rows.append([f"library (ApprovalRunner) / raw ({db}, latency)", "<= 1.3", r, "met" if r and r <= 1.3 else "MISSED"])
    if http and "langgraph dev memory" in http["latency"]:
        ref = http["latency"]["langgraph dev memory"]
        for db in ("sqlite", "postgres"):
            r = ratio(http["latency"].get(f"ours chat {db}"), ref)
            rows.append([f"service ({db}) / langgraph dev (latency, 1 client)", "<= 0.5", r, "met" if r and r <= 0.5 else "MISSED"])
        tp_ref = http["throughput"].get("langgraph dev memory", {})
        for db in ("sqlite", "postgres"):
            tp = http["throughput"].get(f"ours chat {db}", {})
            for clients in ("16", "64"):
                # time per cycle at saturation = 1 / throughput, so the ratio of times is tp_ref / tp
                r = ratio(tp_ref.get(clients), tp.get(clients))
                rows.append([f"service ({db}) / langgraph dev (time per cycle at {clients} clients)", "<= 0.5", r, "met" if r and r <= 0.5 else "MISSED"])
    rows += peer_aims()
    if inbox:
        for db, sizes in inbox["store"].items():
            r = ratio(sizes["100000"]["first_page_ms"], sizes["1000"]["first_page_ms"])
            rows.append([f"inbox first page + exact total 100k / 1k ({db})", "flat (~1)", r, "met" if r and r <= 1.5 else "MISSED"])
            if "capped_page_ms" in sizes["1000"]:
                r = ratio(sizes["100000"]["capped_page_ms"], sizes["1000"]["capped_page_ms"])
                rows.append([f"inbox first page + capped total 100k / 1k ({db})", "flat (~1)", r, "met" if r and r <= 1.5 else "MISSED"])
            r = ratio(sizes["100000"]["by_tool_ms"], sizes["1000"]["by_tool_ms"])
            rows.append([f"inbox by tool 100k / 1k ({db})", "flat (~1)", r, "met" if r and r <= 1.5 else "MISSED"])
            r = ratio(sizes["100000"]["by_thread_ms"], sizes["1000"]["by_thread_ms"])
            rows.append([f"inbox by thread 100k / 1k ({db})", "flat (~1)", r, "met" if r and r <= 1.5 else "MISSED"])
    if growth:
        first, last = str(growth["turns"][0]), str(growth["turns"][-1])
        for name in ("ours", "raw", "raw DeltaChannel", "ours DeltaChannel (prototype)"):
            v = growth["variants"].get(name)
            if v:
                for label, key in (("mean", "bytes_per_turn"), ("median", "median_bytes_per_turn")):
                    r = ratio(v["at"][last][key], v["at"][first][key])
                    rows.append([f"bytes/turn ({label}), turn {last} / turn {first} ({name})", "flat (~1)", r, "met" if r and r <= 1.5 else "MISSED"])
        for name, res in (growth.get("retention") or {}).items():
            mb = res["storage_bytes"] / 1e6
            rows.append([f"disk (MB) for one {last}-turn thread ({name})", "<= 25", mb, "met" if mb <= 25 else "MISSED"])
            r = ratio(res["at"][last]["cycle_ms"], res["at"][first]["cycle_ms"])
            rows.append([f"cycle turn {last} / turn {first} ({name})", "reported", r, "-"])
    return rows


def peer_aims() -> list[list[Any]]:
    """Issue 14: the same langgraph-sdk cycle on ours and on the peers (bench/peers.py)."""
    peers = load("peers")
    if not peers or "latency" not in peers:
        return []
    rows: list[list[Any]] = []
    lat, tp = peers["latency"], peers.get("throughput", {})
    for db in ("sqlite", "postgres"):
        ours = f"ours {db}"
        if ours not in lat:
            continue
        ref = lat.get("langgraph dev memory")
        r = ratio(lat[ours], ref)
        verdict = "not measured" if ref is None else "met" if r and r <= 0.1 else "MISSED"
        rows.append([f"langgraph-sdk cycle, ours ({db}) / langgraph dev (latency, 1 client)", "<= 0.1", r, verdict])
        for peer in ("langgraph dev memory", "aegra postgres"):
            for clients in ("16", "64"):
                theirs = tp.get(peer, {}).get(clients)
                r = ratio(tp.get(ours, {}).get(clients), theirs)
                verdict = "not measured" if theirs is None else "met" if r and r >= 1 else "MISSED"
                rows.append([f"langgraph-sdk cycle, ours ({db}) / {peer} (throughput, {clients} clients)", ">= 1", r, verdict])
    return rows


def write_results(outputs: dict[str, tuple[str, float, int]], args: argparse.Namespace) -> Path:
    m = machine()
    v = m["versions"]
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/run_all.py" + (" --quick" if args.quick else "") + "` (`make bench`); do not edit by hand.",
        "How each number is made, what is extrapolated, and the analysis: [bench/README.md](README.md).",
        "",
        f"- date: {m['date']}",
        f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory']} RAM; {m['os']}",
        f"- Python {v['python']}; langgraph {v['langgraph']} (checkpoint {v['langgraph-checkpoint']}, sqlite "
        f"{v['langgraph-checkpoint-sqlite']}, postgres {v['langgraph-checkpoint-postgres']}); langchain-core "
        f"{v['langchain-core']}; fastapi {v['fastapi']}; uvicorn {v['uvicorn']}; SQLAlchemy {v['sqlalchemy']}; "
        f"psycopg {v['psycopg']}; llama-cpp-python {v['llama-cpp-python']}",
        f"- load average when RESULTS.md was written: {m['loadavg']} (1/5/15 min; each bench's JSON has its own)",
        f"- mode: {'quick (smoke: few cycles, LangGraph inbox scan at 1k only, 10/50 turns)' if args.quick else 'full'}",
    ]
    lgdev = BENCH / ".venv-langgraph/bin/python"
    if lgdev.exists():
        probe = subprocess.run(
            [str(lgdev), "-c", "from importlib.metadata import version as v; print(v('langgraph-cli'), v('langgraph-api'), v('langgraph-runtime-inmem'), v('langgraph'))"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0:
            cli, api, inmem, lg = probe.stdout.split()
            lines.append(f"- `langgraph dev`: langgraph-cli {cli}, langgraph-api {api}, langgraph-runtime-inmem {inmem}, langgraph {lg} (bench/.venv-langgraph)")
    aegra = BENCH / ".venv-aegra/bin/python"
    if aegra.exists():
        probe = subprocess.run(
            [str(aegra), "-c", "import sys; from importlib.metadata import version as v; print(v('aegra-api'), v('langgraph'), sys.version.split()[0])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0:
            api, lg, py = probe.stdout.split()
            lines.append(f"- Aegra: aegra-api {api}, langgraph {lg}, Python {py} (bench/.venv-aegra)")
    lines += ["", "## Aims", "", table(["aim", "target", "measured", "verdict"], [[a, t, fmt(r) if r is not None else "-", s] for a, t, r, s in aims()]), ""]
    for name, (output, seconds, code) in outputs.items():
        title = BENCHES[name][1]
        lines += [f"## {title}", "", f"`bench/{BENCHES[name][0]}`, {seconds:.0f} s" + (f", EXIT CODE {code}" if code else ""), "", "```text", output.strip(), "```", ""]
    path = BENCH / "RESULTS.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short smoke mode")
    parser.add_argument("--skip-embedded", action="store_true", help="skip the embedded llama.cpp bench")
    parser.add_argument("--skip-langgraph-dev", action="store_true", help="skip `langgraph dev` (no separate venv)")
    parser.add_argument("--skip-aegra", action="store_true", help="skip Aegra in the peers bench (no separate venv)")
    parser.add_argument("--postgres", default=os.environ.get("HITL_BENCH_POSTGRES", DEFAULT_PG), help="PostgreSQL URL; '' to skip")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--report-only", action="store_true", help="rebuild RESULTS.md from bench/.results, run nothing")
    args = parser.parse_args()
    if args.report_only:
        print(f"wrote {write_results(previous_outputs(), args)}")
        return
    names = args.only.split(",") if args.only else list(BENCHES)
    if args.skip_embedded:
        names = [n for n in names if n not in ("embedded", "accuracy", "agent")]
    if args.quick and not args.only:  # the accuracy bench has no short mode
        names = [n for n in names if n != "accuracy"]
    if not args.only:  # a full run starts from clean results, so RESULTS.md shows only this run
        for stale in RESULTS_DIR.glob("*.json"):
            stale.unlink()
    outputs = {name: run(name, args) for name in names}
    path = write_results(previous_outputs(), args)
    print("\n=== aims")
    print(table(["aim", "target", "measured", "verdict"], aims()))
    print(f"\nwrote {path}")
    failed = [n for n, (_, _, code) in outputs.items() if code]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
