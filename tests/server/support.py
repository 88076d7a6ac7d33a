"""Start real `hitl serve` processes, with tokens made by the store `hitl tokens create` uses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.conftest import free_port

HERE = Path(__file__).parent
HITL = Path(sys.executable).with_name("hitl")

STRICT_POLICY = """\
access:
  self_approval: false
  start_roles: [requester, admin]
"""


# Suites start many runs and sign-ins from one identity: the per-identity run limits and the
# sign-in limit are lifted unless a test sets them (test_security's flood tests do).
UNTHROTTLED = {"HITL_AUTH__RUN_RATE": "1000000/minute", "HITL_AUTH__MAX_ACTIVE_RUNS": "1000000",
               "HITL_AUTH__SESSION_RATE": "1000000/minute"}


def hitl(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HITL), *args], capture_output=True, text=True, check=check,
                          env={**os.environ, "HITL_HOME": str(home)})


def issue(db: str, home: Path, user: str, *roles: str) -> str:
    return issue_all(db, home, {user: roles})[user]


def issue_all(db: str, home: Path, users: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """A token per user, made in this process with the store `hitl tokens create` uses (same
    database, same audit key from `home`). One CLI process per token cost 3-5 s on CI, most
    of a server test's setup; tests/cli/ covers the command itself."""
    from langgraph_ollama_local.config import LocalAgentConfig
    from langgraph_ollama_local.store.approval_store import ApprovalStore
    from langgraph_ollama_local.store.audit import audit_key_of
    from langgraph_ollama_local.store.tokens import TokenStore

    async def create() -> dict[str, str]:
        config = LocalAgentConfig(storage_url=db, home=home)
        store = await ApprovalStore.open(config.resolved_storage_url, audit_key=audit_key_of(config))
        try:
            tokens = TokenStore(store.engine)
            made = {}
            for user, roles in users.items():
                _, made[user] = await tokens.create(user, list(roles), created_by="cli:tests", now=datetime.now(UTC))
            return made
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:  # callers may be inside a running event loop
        return pool.submit(asyncio.run, create()).result()


@dataclass
class Service:
    base: str
    db: str
    home: Path
    proc: subprocess.Popen[str]
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, user: str | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        if user is not None:
            token = self.tokens[user]
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def audit(self) -> list[dict]:
        return self.client("root").get("/audit", params={"limit": 1000}).json()

    def outbox(self) -> list[Path]:
        return sorted((self.home / "outbox").glob("*.eml"))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def launch(home: Path, *, graph: str | None = "two_stage_graph.py:graph", users: dict[str, tuple[str, ...]],
           policy: str | None = STRICT_POLICY, env: dict[str, str] | None = None, db: str | None = None,
           extra_args: tuple[str, ...] = (), tokens: dict[str, str] | None = None) -> Service:
    """A real `hitl serve` on a free port. `extra_args` e.g. ("--workers", "0") for an
    API-only process; pass `tokens` (from another Service) to share users instead of issuing."""
    db = db or f"sqlite:///{home / 'hitl.db'}"
    tokens = dict(tokens) if tokens is not None else issue_all(db, home, users)
    graph_args = ["--graph", graph_path(graph)] if graph else []  # None: extra_args name it (--config)
    args = [str(HITL), "serve", "--port", str(port := free_port()), "--db", db, *graph_args, *extra_args]
    if policy is not None:
        (home / "policy.yaml").write_text(policy)
        args += ["--policy", str(home / "policy.yaml")]
    log = open(home / f"serve-{port}.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(args, env={**os.environ, "HITL_HOME": str(home), **UNTHROTTLED, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return Service(base, db, home, proc, tokens)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"hitl serve did not start:\n{(home / f'serve-{port}.log').read_text()}")


def graph_path(graph: str) -> str:
    """`name.py:var` relative to tests/server, or an absolute `path.py:var`."""
    return graph if Path(graph.partition(":")[0]).is_absolute() else f"{HERE / graph}"


def start_worker(home: Path, db: str, *, graph: str, policy: str | None = STRICT_POLICY,
                 env: dict[str, str] | None = None, concurrency: int = 2, lease_seconds: float = 3.0,
                 log_name: str | None = None) -> subprocess.Popen[str]:
    """A real `hitl worker` process on the shared PostgreSQL `db` (returns once it listens)."""
    args = [str(HITL), "worker", "--db", db, "--graph", graph_path(graph), "--concurrency", str(concurrency),
            "--lease-seconds", str(lease_seconds)]
    if policy is not None:
        (home / "policy.yaml").write_text(policy)
        args += ["--policy", str(home / "policy.yaml")]
    log_path = home / (log_name or f"worker-{time.monotonic_ns()}.log")
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(args, env={**os.environ, "HITL_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    started = wait_until(lambda: proc.poll() is not None or "worker " in log_path.read_text(), 60)
    if not started or proc.poll() is not None:
        proc.kill()
        raise AssertionError(f"hitl worker did not start:\n{log_path.read_text()}")
    return proc


def wait_until(predicate, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()
