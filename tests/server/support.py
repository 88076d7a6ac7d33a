"""Start real `hitl serve` processes with tokens made by `hitl tokens create`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
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


def hitl(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HITL), *args], capture_output=True, text=True, check=check,
                          env={**os.environ, "HITL_HOME": str(home)})


def issue(db: str, home: Path, user: str, *roles: str) -> str:
    args = ["tokens", "create", user, "--db", db, "--quiet"]
    for role in roles:
        args += ["--role", role]
    return hitl(*args, home=home).stdout.strip()


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


def launch(home: Path, *, graph: str = "two_stage_graph.py:graph", users: dict[str, tuple[str, ...]],
           policy: str | None = STRICT_POLICY, env: dict[str, str] | None = None, db: str | None = None) -> Service:
    db = db or f"sqlite:///{home / 'hitl.db'}"
    tokens = {user: issue(db, home, user, *roles) for user, roles in users.items()}
    args = [str(HITL), "serve", "--port", str(port := free_port()), "--db", db, "--graph", f"{HERE / graph}"]
    if policy is not None:
        (home / "policy.yaml").write_text(policy)
        args += ["--policy", str(home / "policy.yaml")]
    log = open(home / f"serve-{port}.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(args, env={**os.environ, "HITL_HOME": str(home), **(env or {})},
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


def wait_until(predicate, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()
