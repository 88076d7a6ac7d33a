"""The HITL cycle through LangGraph's own client, `langgraph-sdk`, on every server that speaks its API.

One piece of client code (`cycle` below) runs unchanged against:
- `hitl serve` (ours) on SQLite and on PostgreSQL, serving bench/service_graph.py (the gated
  graph): approvals, audit chain and the durable run queue are on, as always; the requester
  and the approver are two users with their own tokens (`hitl tokens create`), since a
  requester may not decide their own request;
- `langgraph dev` (LangGraph's dev server, in-memory runtime), from bench/.venv-langgraph
  (bench/setup_langgraph_dev.sh);
- Aegra (`aegra-api`/`aegra-cli` from PyPI, `aegra serve`), from bench/.venv-aegra
  (bench/setup_aegra.sh), on its own database on the same PostgreSQL, as it ships: no auth
  (`AUTH_TYPE=noop`), no Redis (in-process executor).
Both peers serve bench/langgraph_dev_app (the raw graph, plain `interrupt()` before the tool).

The cycle: `threads.create()` → `runs.wait(input=…)` (returns the paused state, whose
`__interrupt__` names `send_email`) → `runs.wait(command={"resume": {"type": "approve"}})` by
the approver (returns the final state, the tool's reply checked). On ours that resume is a
policy-checked, stored, audited decision; on the peers it is a plain resume.

Latency: one client, targets alternating cycle by cycle, median after warm-up. Throughput:
16 and 64 concurrent clients (coroutines sharing one SDK client per role and server), each
running cycles back to back; median of rounds, targets alternating.

    .venv/bin/python bench/peers.py [--quick] [--postgres URL|''] [--skip-langgraph-dev] [--skip-aegra]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import BENCH, DEFAULT_PG, machine, median_ms, postgres_db, save, table
from hitl_http import HITL, LGDEV_VENV, Server, free_port, start_langgraph_dev, wait_healthy
from langgraph_sdk.client import LangGraphClient

AEGRA_VENV = BENCH / ".venv-aegra"
ASSISTANT = "agent"
INPUT = {"messages": [{"role": "user", "content": "Send email to bob@example.com"}]}
APPROVE = {"resume": {"type": "approve"}}


@dataclass
class Target:
    """A server and the credentials of its two people (None: the server has no auth)."""

    name: str
    server: Server
    requester_token: str | None
    approver_token: str | None

    def clients(self) -> tuple[LangGraphClient, LangGraphClient]:
        return sdk_client(self.server.base, self.requester_token), sdk_client(self.server.base, self.approver_token)


def sdk_client(url: str, api_key: str | None) -> LangGraphClient:
    """`get_client(url=…, api_key=…)` as the SDK builds it (key as `x-api-key`, connect retries),
    except that idle pooled connections are dropped after 2 s: httpx keeps them 5 s, exactly
    uvicorn's keep-alive timeout (all three servers run uvicorn), so under load a request
    sent on a connection the server is closing fails with ReadError (seen here at 16 clients).
    """
    transport = httpx.AsyncHTTPTransport(retries=5, limits=httpx.Limits(keepalive_expiry=2.0))
    headers = {"x-api-key": api_key} if api_key else {}
    return LangGraphClient(httpx.AsyncClient(base_url=url, transport=transport, timeout=300, headers=headers))


async def cycle(requester: LangGraphClient, approver: LangGraphClient) -> None:
    """One HITL cycle with the SDK: the same calls on every server."""
    thread = await requester.threads.create()
    paused: Any = await requester.runs.wait(thread["thread_id"], ASSISTANT, input=INPUT)
    interrupts = paused.get("__interrupt__") or []
    value = interrupts[0]["value"] if interrupts else {}
    calls = value.get("tool_calls") or value.get("action_requests") or []  # raw graph | our gate
    assert calls and calls[0]["name"] == "send_email", paused
    final: Any = await approver.runs.wait(thread["thread_id"], ASSISTANT, command=APPROVE)
    last = final["messages"][-1]
    assert last["type"] == "ai" and str(last["content"]).startswith("Done."), final


# -- servers ---------------------------------------------------------------------------------


def issue(db: str, env: dict[str, str], user: str, *roles: str) -> str:
    args = [str(HITL), "tokens", "create", user, "--db", db, "--quiet"]
    for role in roles:
        args += ["--role", role]
    return subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout.strip()


def start_ours(kind: str, db: str, home: Path) -> Target:
    env = {
        **os.environ,
        "HITL_HOME": str(home / kind),
        # per-user rate limits (60 decisions/minute by default) would throttle a benchmark
        "HITL_AUTH__DECISION_RATE": "1000000/minute",
        "HITL_AUTH__RUN_RATE": "1000000/minute",
        "HITL_AUTH__MAX_ACTIVE_RUNS": "1000000",
    }
    requester = issue(db, env, "alice", "requester")
    approver = issue(db, env, "bob", "approver")
    port = free_port()
    log = home / f"ours-{kind}.log"
    cmd = [str(HITL), "serve", "--port", str(port), "--db", db, "--graph", f"{BENCH / 'service_graph.py'}:graph"]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(proc, f"{base}/healthz", log)
    return Target(f"ours {kind}", Server(f"ours {kind}", base, proc, {}, log), requester, approver)


def peer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "VIRTUAL_ENV"))}
    return env | {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false", "PYTHONUNBUFFERED": "1"}


def start_aegra(postgres: str, home: Path) -> Target:
    db = postgres_db(postgres, "aegra_bench")  # a fresh database of its own on the same server
    if db is None:
        raise RuntimeError(f"PostgreSQL unavailable at {postgres}")
    setup = subprocess.run(["bash", str(BENCH / "setup_aegra.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        raise RuntimeError(f"setup_aegra.sh failed:\n{setup.stdout[-2000:]}\n{setup.stderr[-2000:]}")
    port = free_port()
    log = home / "aegra.log"
    env = peer_env() | {
        "DATABASE_URL": db,
        "LOG_LEVEL": "WARNING",  # its access log at INFO would cost it a line per request
        "AUTH_TYPE": "noop",  # as it ships
    }
    cmd = [str(AEGRA_VENV / "bin/aegra"), "serve", "--host", "127.0.0.1", "--port", str(port), "--config", "langgraph.json"]
    # its own session: `aegra serve` runs uvicorn as a child process, which outlives a
    # terminated parent, so stopping it means signalling the whole process group
    cwd = BENCH / "langgraph_dev_app"
    out = log.open("wb")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    server = GroupServer("aegra", base, proc, {}, log)
    try:
        wait_healthy(proc, f"{base}/health", log)
    except BaseException:
        server.stop()
        raise
    return Target("aegra postgres", server, None, None)


class GroupServer(Server):
    """A server started in its own process group; stopping it stops its children too."""

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def peer_versions() -> dict[str, str]:
    probes = {
        "aegra": (AEGRA_VENV, ("aegra-api", "langgraph", "langgraph-sdk")),
        "langgraph dev": (LGDEV_VENV, ("langgraph-cli", "langgraph-api", "langgraph-runtime-inmem", "langgraph")),
    }
    out = {}
    for name, (venv, dists) in probes.items():
        python = venv / "bin/python"
        if python.exists():
            code = f"from importlib.metadata import version as v; print(', '.join(d + ' ' + v(d) for d in {dists!r}))"
            probe = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
            out[name] = probe.stdout.strip() or probe.stderr.strip()[-200:]
    return out


# -- measurements ----------------------------------------------------------------------------


async def latency(targets: list[Target], cycles: int, warmup: int) -> dict[str, float]:
    pairs = {t.name: t.clients() for t in targets}
    try:
        for _ in range(warmup):
            for t in targets:
                await cycle(*pairs[t.name])
        times: dict[str, list[float]] = {t.name: [] for t in targets}
        for _ in range(cycles):
            for t in targets:  # alternate, so machine noise hits every side alike
                started = time.perf_counter()
                await cycle(*pairs[t.name])
                times[t.name].append(time.perf_counter() - started)
    finally:
        for pair in pairs.values():
            for client in pair:
                await client.aclose()
    return {name: median_ms(v) for name, v in times.items()}


async def throughput(target: Target, clients: int, per_client: int) -> float:
    requester, approver = target.clients()
    try:
        await asyncio.gather(*(cycle(requester, approver) for _ in range(min(clients, 8))))  # warm-up

        async def client() -> None:
            for _ in range(per_client):
                await cycle(requester, approver)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return clients * per_client / (time.perf_counter() - started)
    finally:
        await requester.aclose()
        await approver.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few minutes: fewer cycles, one round")
    parser.add_argument("--cycles", type=int, default=None, help="latency cycles per target")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL; '' to skip (and Aegra)")
    parser.add_argument("--skip-langgraph-dev", action="store_true")
    parser.add_argument("--skip-aegra", action="store_true")
    args = parser.parse_args()
    cycles = args.cycles or (10 if args.quick else 30)
    warmup = 3 if args.quick else 8
    home = Path(tempfile.mkdtemp(prefix="hitl-peers-bench-"))
    targets: list[Target] = []
    result: dict[str, Any] = {"machine": machine(), "cycles": cycles, "warmup": warmup, "errors": {}}
    try:
        targets.append(start_ours("sqlite", f"sqlite:///{home / 'hitl.sqlite'}", home))
        pg = postgres_db(args.postgres, "hitl_bench_peers") if args.postgres else None
        if pg:
            targets.append(start_ours("postgres", pg, home))
        peers: list[tuple[str, Any]] = []
        if not args.skip_langgraph_dev:
            peers.append(("langgraph dev", lambda: start_langgraph_dev(home)))
        if not args.skip_aegra and args.postgres:
            peers.append(("aegra", lambda: start_aegra(args.postgres, home)))
        for name, start in peers:
            try:
                started = start()
                targets.append(started if isinstance(started, Target) else Target("langgraph dev memory", started, None, None))
            except Exception as exc:  # a peer that cannot run here is reported, the rest goes on
                print(f"{name} unavailable: {exc}", file=sys.stderr)
                result["errors"][name] = str(exc)[-2000:]
        result["peer_versions"] = peer_versions()
        for name, line in result["peer_versions"].items():
            print(f"{name}: {line}")

        lat = asyncio.run(latency(targets, cycles, warmup))
        result["latency"] = lat
        ref = lat.get("langgraph dev memory")
        print(f"\nHITL cycle with langgraph-sdk, median ms of {cycles} after {warmup} warm-up (one client, sequential)")
        print(table(["server", "median ms", "vs langgraph dev"], [[k, v, v / ref if ref else None] for k, v in lat.items()]))

        result["throughput"] = {t.name: {} for t in targets}
        rows = []
        for clients in (16, 64):
            total = {16: 32, 64: 64}[clients] if args.quick else {16: 96, 64: 128}[clients]
            per_client = max(1, total // clients)
            rounds = 1 if args.quick else 3
            samples: dict[str, list[float]] = {t.name: [] for t in targets}
            for index in range(rounds):  # order reversed every other round
                for t in targets if index % 2 == 0 else targets[::-1]:
                    samples[t.name].append(asyncio.run(throughput(t, clients, per_client)))
            for t in targets:
                tp = statistics.median(samples[t.name])
                result["throughput"][t.name][str(clients)] = tp
                rows.append([t.name, clients, clients * per_client, rounds, tp])
            print(f"  throughput {clients} clients done", flush=True)
        rows.sort(key=lambda r: [t.name for t in targets].index(r[0]))
        print("\nHITL cycle with langgraph-sdk, throughput (cycles/s; each client runs its cycles back to back; median of rounds)")
        print(table(["server", "clients", "cycles/round", "rounds", "cycles/s"], rows))
        if result["errors"]:
            print("\nNot measured: " + "; ".join(f"{k}: {v.splitlines()[0]}" for k, v in result["errors"].items()))
    finally:
        for t in targets:
            t.server.stop()
    result["logs"] = str(home)
    save("peers", result)


if __name__ == "__main__":
    main()
