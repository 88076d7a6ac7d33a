"""`hitl doctor`: is this machine ready to chat? Every failed check says how to fix it.

It also shows what a crash may have left behind in the service's tables: expired run
leases, stuck runs, pending notifications, tool calls in doubt (`cli/recovery.py`).

Checks that only matter for a provider you are not using are still shown, but marked
optional: the exit code is 0 when everything the configured provider needs is OK.
"""

from __future__ import annotations

import importlib
import json
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.text import Text

from langgraph_ollama_local.cli.common import (
    DEBUG_HELP,
    ProviderOption,
    load_config,
    make_console,
    set_debug,
    user_errors,
)
from langgraph_ollama_local.config import LocalAgentConfig


@dataclass(frozen=True)
class Check:
    """One row of the report; `required` when the configured provider depends on it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


@dataclass(frozen=True)
class Report:
    configured: str
    resolved: str
    reason: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "provider": {"configured": self.configured, "resolved": self.resolved, "reason": self.reason},
            "checks": [asdict(c) for c in self.checks],
        }


def run_checks(config: LocalAgentConfig, *, full_checksum: bool = True) -> Report:
    """Run every check; slow ones (the model's full sha256) only once each."""
    from langgraph_ollama_local.llm import resolve_provider

    choice = resolve_provider(config)
    version = ".".join(str(v) for v in sys.version_info[:3])
    checks = [
        Check("python", sys.version_info >= (3, 11), f"Python {version}", "install Python 3.11 or newer"),
        Check("provider", True, f"{config.provider} → {choice.name}: {choice.reason}"),
        _ollama_check(config, required=choice.name == "ollama"),
    ]
    if choice.name == "openai" or config.provider == "openai":
        checks.append(_openai_check(config))
    embedded = choice.name == "embedded"
    checks.append(_llama_check(required=embedded))
    checks.append(_model_check(config, full=full_checksum, required=embedded))
    checks.append(_planner_check(config, full=full_checksum, required=embedded))
    checks.append(_storage_check(config))
    checks.append(_smtp_check(config))
    if config.policy_file:
        checks.append(_policy_check(config))
    if _storage_ok(checks):
        from langgraph_ollama_local.cli.recovery import recovery_checks

        checks.extend(recovery_checks(config.resolved_storage_url))
        from langgraph_ollama_local.cli.prune import retention_check

        checks.append(retention_check(config))
    return Report(config.provider, choice.name, choice.reason, checks)


def _storage_ok(checks: list[Check]) -> bool:
    return any(c.name == "storage" and c.ok for c in checks)


def _ollama_check(config: LocalAgentConfig, *, required: bool) -> Check:
    from langgraph_ollama_local.llm import check_ollama

    model = config.ollama.model
    health = check_ollama(config.ollama.base_url, model)
    if not health.reachable:
        fix = "start it with `ollama serve` (or set OLLAMA_HOST to where it runs)"
    elif not health.model_present:
        fix = f"ollama pull {model}"
    else:
        fix = ""
    return Check("ollama", health.ok, health.message, fix, required)


def _openai_check(config: LocalAgentConfig) -> Check:
    base = config.openai.base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {config.openai.api_key}"}
    fix = "start the OpenAI-compatible server or set HITL_OPENAI__BASE_URL"
    try:
        response = httpx.get(f"{base}/models", headers=headers, timeout=3.0)
    except httpx.HTTPError as exc:
        return Check("openai", False, f"{base} is not reachable ({type(exc).__name__})", fix)
    if response.status_code >= 400:
        return Check("openai", False, f"{base}/models answered HTTP {response.status_code}", fix)
    return Check("openai", True, f"{base} answers (model {config.openai.model})")


def _llama_check(*, required: bool) -> Check:
    try:
        llama_cpp = importlib.import_module("llama_cpp")
    except ImportError as exc:
        return Check("llama.cpp", False, f"llama_cpp does not import ({exc})", "make install", required)
    version = getattr(llama_cpp, "__version__", "?")
    return Check("llama.cpp", True, f"llama-cpp-python {version}", required=required)


def _model_check(config: LocalAgentConfig, *, full: bool, required: bool) -> Check:
    from langgraph_ollama_local.llm.embedded.model_file import ensure_model_file, verify_model_file
    from langgraph_ollama_local.llm.errors import ProviderError

    custom = config.embedded.model_path
    if custom is not None:
        return Check(
            "model file",
            custom.is_file(),
            f"{custom} (your own GGUF file, not checksummed)",
            "set HITL_EMBEDDED__MODEL_PATH to an existing GGUF file",
            required,
        )
    try:
        path = ensure_model_file(config.embedded.cache_dir)
        verify_model_file(path, full=full)
    except (ProviderError, OSError) as exc:
        return Check("model file", False, str(exc), "make install", required)
    checked = "sha256 verified" if full else "present"
    return Check("model file", True, f"{path} ({checked})", required=required)


def _planner_check(config: LocalAgentConfig, *, full: bool, required: bool) -> Check:
    """The model that plans guided turns (agent/guided.py): the packaged 1.5B by default."""
    from langgraph_ollama_local.llm.embedded.model_file import QWEN_1_5B, ensure_model_file, verify_model_file
    from langgraph_ollama_local.llm.errors import ProviderError

    settings = config.embedded
    if config.turns == "native":
        return Check("planner", True, "turns are native: no planner model is used", required=required)
    if settings.planner_model_path is not None:
        ok = settings.planner_model_path.is_file()
        fix = "set HITL_EMBEDDED__PLANNER_MODEL_PATH to an existing GGUF file"
        return Check("planner", ok, f"{settings.planner_model_path} (your own GGUF file)", fix, required)
    if settings.planner == "same" or settings.model_path is not None:
        return Check("planner", True, "the chat model plans its own turns", required=required)
    try:
        path = ensure_model_file(settings.cache_dir, model=QWEN_1_5B)
        verify_model_file(path, expected_sha256=QWEN_1_5B.sha256, full=full)
    except (ProviderError, OSError) as exc:
        fix = "make install (or HITL_EMBEDDED__PLANNER=same to plan with the chat model)"
        return Check("planner", False, str(exc), fix, required)
    checked = "sha256 verified" if full else "present"
    return Check("planner", True, f"{path} ({checked}, {QWEN_1_5B.name})", required=required)


def _storage_check(config: LocalAgentConfig) -> Check:
    from langgraph_ollama_local.store import check_storage

    ok, message = check_storage(config.resolved_storage_url)
    fix = "" if ok else "set HITL_STORAGE_URL (or --db) to a working URL, or start the database server"
    return Check("storage", ok, message, fix)


def _smtp_check(config: LocalAgentConfig) -> Check:
    smtp = config.smtp
    if not smtp.host:
        return Check(
            "email",
            True,
            f"no SMTP host: send_email writes .eml files to the outbox at {config.resolved_outbox_dir}",
        )
    try:
        with socket.create_connection((smtp.host, smtp.port), timeout=3):
            pass
    except OSError as exc:
        return Check(
            "email",
            False,
            f"SMTP {smtp.host}:{smtp.port} is not reachable ({exc})",
            "start the mail server, fix HITL_SMTP__HOST/HITL_SMTP__PORT, or unset the host to use the outbox",
        )
    return Check("email", True, f"SMTP {smtp.host}:{smtp.port} accepts connections")


def _policy_check(config: LocalAgentConfig) -> Check:
    from langgraph_ollama_local.agent import default_tools
    from langgraph_ollama_local.agent.defaults import default_policy
    from langgraph_ollama_local.approvals import PolicyError

    try:
        policy = default_policy(config)
        policy.check_tools([t.name for t in default_tools(config)])
    except PolicyError as exc:
        return Check(
            "policy",
            False,
            str(exc),
            "fix the file (`hitl policy check FILE` lists every problem) or point --policy / "
            "HITL_POLICY_FILE at another one",
        )
    return Check("policy", True, f"{config.policy_file} loads")


def print_report(console: Console, report: Report) -> None:
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        if check.ok:
            mark = ("✓", "green")
        elif check.required:
            mark = ("✗", "bold red")
        else:
            mark = ("✗", "yellow")
        optional = "" if check.required or check.ok else "  (optional here)"
        row = Text.assemble(
            mark, " ", (check.name.ljust(width), "bold"), "  ", check.detail, (optional, "dim")
        )
        console.print(row, soft_wrap=True)
        if not check.ok and check.fix:
            console.print(Text.assemble(" " * (width + 4), ("fix: ", "dim"), check.fix), soft_wrap=True)
    verdict = "ready" if report.ok else "not ready"
    console.print(
        Text(
            f"\n{verdict}: provider {report.configured} → {report.resolved}",
            style="green" if report.ok else "red",
        )
    )


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    provider: Annotated[ProviderOption | None, typer.Option(help="Check for this provider instead.")] = None,
    db: Annotated[str | None, typer.Option(help="Check this storage URL instead.")] = None,
    policy: Annotated[Path | None, typer.Option(help="Check this approval policy file instead.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Check Python, the model provider, the embedded model, storage, email and policy."""
    if debug:
        set_debug(True)
    console = make_console()
    with user_errors():
        report = run_checks(load_config(provider=provider, db=db, policy=policy))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(console, report)
    raise typer.Exit(0 if report.ok else 1)
