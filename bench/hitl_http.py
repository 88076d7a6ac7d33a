"""HITL cycle over HTTP: our service (`hitl serve`) vs LangGraph's own `langgraph dev`.

Both serve the same scripted model and the same trivial `send_email` tool: ours the gated
graph (bench/service_graph.py), `langgraph dev` the raw graph with a plain `interrupt()`
(bench/raw_graph.py), from the separate venv bench/setup_langgraph_dev.sh makes.

Cycles measured (start → paused → approval read → decided → resumed → done):
- ours `chat`: POST /chat (waits until paused, returns the pending action) → POST /approve
  (decides and waits for the resumed run): 2 requests.
- ours `rest`: POST /threads/{t}/runs → GET /runs/{id}/wait → GET /approvals?thread_id →
  POST /approvals/{id}/decision → poll GET /threads/{t}/state (every 2 ms) until done.
- `langgraph dev`: POST /threads/{t}/runs/wait (input, if_not_exists=create; the reply
  carries `__interrupt__`) → POST /threads/{t}/runs/wait with {"command": {"resume": …}}.
- ours `langgraph-api`: exactly those requests against `hitl serve` (LangGraph's server
  API there; the resume is a policy-checked, audited decision).

Ours runs on SQLite and PostgreSQL (its approval store needs SQL, so no in-memory
service); `langgraph dev` only has its in-memory runtime. Every request carries
`Authorization: Bearer <token>`, made with `hitl tokens create` when that command exists.

    .venv/bin/python bench/hitl_http.py [--quick] [--postgres URL|''] [--skip-langgraph-dev]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import BENCH, DEFAULT_PG, machine, median_ms, postgres_db, save, table

HITL = Path(sys.executable).with_name("hitl")
LGDEV_VENV = BENCH / ".venv-langgraph"
MESSAGE = "Send email to bob@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen[bytes]
    headers: dict[str, str]
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start ({url}):\n{log.read_text()[-3000:]}")


def make_token(db: str, env: dict[str, str]) -> str | None:
    """A token via `hitl tokens create` when the command exists (auth landed), else None."""
    probe = subprocess.run([str(HITL), "tokens", "--help"], capture_output=True, env=env)
    if probe.returncode != 0:
        return None
    out = subprocess.run(
        [str(HITL), "tokens", "create", "bench", "--role", "admin", "--role", "approver", "--db", db, "--quiet"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return out.stdout.strip()


def start_ours(name: str, db: str, home: Path) -> Server:
    env = {
        **os.environ,
        "HITL_HOME": str(home),
        # the default 60 decisions/minute/user would throttle a benchmark, not measure it
        "HITL_AUTH__DECISION_RATE": "1000000/minute",
        "HITL_AUTH__RUN_RATE": "1000000/minute",  # run starts and concurrent runs per identity too
        "HITL_AUTH__MAX_ACTIVE_RUNS": "1000000",
    }
    token = make_token(db, env)
    port = free_port()
    log = home / f"{name}.log"
    cmd = [str(HITL), "serve", "--port", str(port), "--db", db, "--graph", f"{BENCH / 'service_graph.py'}:graph"]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(proc, f"{base}/healthz", log)
    headers = {"Authorization": f"Bearer {token or 'no-auth-yet'}"}
    return Server(name, base, proc, headers, log)


def start_langgraph_dev(home: Path) -> Server:
    setup = subprocess.run(["bash", str(BENCH / "setup_langgraph_dev.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        raise RuntimeError(f"setup_langgraph_dev.sh failed:\n{setup.stdout}\n{setup.stderr}")
    port = free_port()
    log = home / "langgraph-dev.log"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "VIRTUAL_ENV"))
    }
    env |= {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false", "PYTHONUNBUFFERED": "1"}
    cmd = [
        str(LGDEV_VENV / "bin/langgraph"),
        "dev",
        "--port",
        str(port),
        "--no-browser",
        "--no-reload",
        "--allow-blocking",  # the raw graph has sync nodes, as a tutorial graph does
        "--server-log-level",
        "WARNING",
        "--config",
        "langgraph.json",
    ]
    proc = subprocess.Popen(cmd, cwd=BENCH / "langgraph_dev_app", env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(proc, f"{base}/ok", log)
    return Server("langgraph dev", base, proc, {"Authorization": "Bearer unused"}, log)


# -- one cycle per flavour ---------------------------------------------------------------


async def cycle_chat(http: httpx.AsyncClient, server: Server) -> None:
    thread = uuid.uuid4().hex
    r = await http.post(f"{server.base}/chat", json={"thread_id": thread, "message": MESSAGE}, headers=server.headers)
    r.raise_for_status()
    body = r.json()
    assert body["pending_approval"] and body["pending_action"]["tool"] == "send_email", body
    r = await http.post(f"{server.base}/approve", json={"thread_id": thread, "approved": True}, headers=server.headers)
    r.raise_for_status()
    done = r.json()
    assert not done["pending_approval"] and done["response"].startswith("Done."), done


async def cycle_rest(http: httpx.AsyncClient, server: Server) -> None:
    thread = uuid.uuid4().hex
    h = server.headers
    r = await http.post(f"{server.base}/threads/{thread}/runs", json={"message": MESSAGE}, headers=h)
    assert r.status_code == 202, r.text
    run = (await http.get(f"{server.base}/runs/{r.json()['id']}/wait", params={"seconds": 60}, headers=h)).json()
    assert run["status"] == "paused", run
    inbox = (await http.get(f"{server.base}/approvals", params={"thread_id": thread}, headers=h)).json()
    approval = inbox["items"][0]["id"]
    r = await http.post(f"{server.base}/approvals/{approval}/decision", json={"type": "approve"}, headers=h)
    r.raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = (await http.get(f"{server.base}/threads/{thread}/state", headers=h)).json()
        messages = state["values"].get("messages") or []
        last = messages[-1] if messages else {}
        if not state["next"] and last.get("type") == "ai" and str(last["data"]["content"]).startswith("Done."):
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"thread {thread} did not finish")


async def cycle_lgdev(http: httpx.AsyncClient, server: Server) -> None:
    """LangGraph's server API: the same requests against `langgraph dev` and `hitl serve`."""
    thread = str(uuid.uuid4())
    url = f"{server.base}/threads/{thread}/runs/wait"
    first = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": MESSAGE}]},
        "if_not_exists": "create",
    }
    r = await http.post(url, json=first, headers=server.headers)
    r.raise_for_status()
    paused = r.json()
    interrupts = paused.get("__interrupt__") or []
    value = interrupts[0]["value"] if interrupts else {}
    calls = value.get("tool_calls") or value.get("action_requests") or []  # raw graph | our gate
    assert calls and calls[0]["name"] == "send_email", paused
    resume = {"assistant_id": "agent", "command": {"resume": {"type": "approve"}}}
    r = await http.post(url, json=resume, headers=server.headers)
    r.raise_for_status()
    final = r.json()["messages"][-1]
    assert final["type"] == "ai" and str(final["content"]).startswith("Done."), final


Cycle = Callable[[httpx.AsyncClient, Server], Awaitable[None]]


async def latency(targets: list[tuple[str, Server, Cycle]], cycles: int, warmup: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        for _ in range(warmup):
            for _, server, cycle in targets:
                await cycle(http, server)
        times: dict[str, list[float]] = {name: [] for name, _, _ in targets}
        for _ in range(cycles):
            for name, server, cycle in targets:  # alternate, so machine noise hits every side
                started = time.perf_counter()
                await cycle(http, server)
                times[name].append(time.perf_counter() - started)
    return {name: median_ms(v) for name, v in times.items()}


async def request_floor(targets: list[tuple[str, Server, str]], n: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=30) as http:
        out = {}
        for name, server, path in targets:
            samples = []
            for _ in range(n):
                started = time.perf_counter()
                (await http.get(f"{server.base}{path}")).raise_for_status()
                samples.append(time.perf_counter() - started)
            out[name] = median_ms(samples)
        return out


async def throughput(server: Server, cycle: Cycle, clients: int, per_client: int) -> float:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        await asyncio.gather(*(cycle(http, server) for _ in range(min(clients, 8))))  # warm-up

        async def client() -> None:
            for _ in range(per_client):
                await cycle(http, server)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return clients * per_client / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cycles", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL; '' to skip")
    parser.add_argument("--skip-langgraph-dev", action="store_true")
    args = parser.parse_args()
    cycles = args.cycles or (20 if args.quick else 100)
    warmup = args.warmup or (5 if args.quick else 10)
    home = Path(tempfile.mkdtemp(prefix="hitl-http-bench-"))
    servers: list[Server] = []
    result: dict[str, Any] = {"machine": machine(), "cycles": cycles, "warmup": warmup, "latency": {}, "throughput": {}}
    try:
        ours: dict[str, Server] = {"sqlite": start_ours("ours-sqlite", f"sqlite:///{home / 'hitl.sqlite'}", home)}
        servers.append(ours["sqlite"])
        pg = postgres_db(args.postgres, "hitl_bench_http") if args.postgres else None
        if pg:
            ours["postgres"] = start_ours("ours-postgres", pg, home)
            servers.append(ours["postgres"])
        lgdev: Server | None = None
        if not args.skip_langgraph_dev:
            try:
                lgdev = start_langgraph_dev(home)
                servers.append(lgdev)
            except Exception as exc:
                print(f"langgraph dev unavailable: {exc}", file=sys.stderr)
                result["langgraph_dev_error"] = str(exc)[-2000:]
        targets: list[tuple[str, Server, Cycle]] = []
        for kind, server in ours.items():
            targets.append((f"ours chat {kind}", server, cycle_chat))
            targets.append((f"ours rest {kind}", server, cycle_rest))
            targets.append((f"ours langgraph-api {kind}", server, cycle_lgdev))
        if lgdev:
            targets.append(("langgraph dev memory", lgdev, cycle_lgdev))
        lat = asyncio.run(latency(targets, cycles, warmup))
        result["latency"] = lat
        floor_targets = [(f"ours {k}: GET /healthz", s, "/healthz") for k, s in ours.items()]
        if lgdev:
            floor_targets.append(("langgraph dev: GET /ok", lgdev, "/ok"))
        result["request_floor"] = asyncio.run(request_floor(floor_targets, cycles))
        print(f"\nHITL cycle over HTTP, median ms of {cycles} after {warmup} warm-up (sequential, one client)")
        ref = lat.get("langgraph dev memory")
        print(table(["target", "median ms", "vs langgraph dev"], [[k, v, v / ref if ref else None] for k, v in lat.items()]))

        print("\nOne HTTP round trip to a trivial route (the floor under every request), median ms")
        print(table(["request", "median ms"], list(result["request_floor"].items())))

        tp_targets: list[tuple[str, Server, Cycle]] = [(f"ours chat {k}", s, cycle_chat) for k, s in ours.items()]
        tp_targets += [(f"ours langgraph-api {k}", s, cycle_lgdev) for k, s in ours.items()]
        if lgdev:
            tp_targets.append(("langgraph dev memory", lgdev, cycle_lgdev))
        rows = []
        for name, _, _ in tp_targets:
            result["throughput"][name] = {}
        for clients in (1, 16, 64):
            # 1 client is the latency case again (and langgraph dev idles ~0.5 s per run there)
            total = {1: 8, 16: 32, 64: 64}[clients] if args.quick else {1: 32, 16: 192, 64: 256}[clients]
            per_client = max(1, total // clients)
            rounds = 1 if args.quick or clients == 1 else 3
            samples: dict[str, list[float]] = {name: [] for name, _, _ in tp_targets}
            for index in range(rounds):  # targets alternate, order reversed every other round
                for name, server, cycle in tp_targets if index % 2 == 0 else tp_targets[::-1]:
                    samples[name].append(asyncio.run(throughput(server, cycle, clients, per_client)))
            for name, _, _ in tp_targets:
                tp = statistics.median(samples[name])
                result["throughput"][name][str(clients)] = tp
                rows.append([name, clients, clients * per_client, rounds, tp])
            print(f"  throughput {clients} clients done", flush=True)
        rows.sort(key=lambda r: [t[0] for t in tp_targets].index(r[0]))
        print("\nHITL cycle over HTTP, throughput (cycles/s; each client runs its cycles back to back; median of rounds)")
        print(table(["target", "clients", "cycles/round", "rounds", "cycles/s"], rows))
    finally:
        for server in servers:
            server.stop()
    result["logs"] = str(home)
    save("http", result)


if __name__ == "__main__":
    main()
