"""`hitl doctor`: is this machine ready? Each failed check says how to fix it."""

from __future__ import annotations

import socket
import sys
from dataclasses import asdict, dataclass

from langgraph_ollama_local.config import LocalAgentConfig


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def run_checks(config: LocalAgentConfig, *, full_checksum: bool = True) -> list[Check]:
    from langgraph_ollama_local.llm import check_ollama, resolve_provider

    checks = [
        Check(
            "python",
            sys.version_info >= (3, 11),
            sys.version.split()[0],
            "install Python 3.11 or newer",
        )
    ]
    choice = resolve_provider(config)
    checks.append(Check("provider", True, f"{config.provider} → {choice.name}: {choice.reason}"))
    health = check_ollama(config.ollama.base_url, config.ollama.model)
    checks.append(
        Check(
            "ollama",
            health.ok,
            health.message,
            required=choice.name == "ollama",
        )
    )
    needs_embedded = choice.name == "embedded"
    try:
        import llama_cpp

        checks.append(
            Check("llama.cpp", True, f"llama-cpp-python {llama_cpp.__version__}", required=needs_embedded)
        )
    except ImportError:
        checks.append(Check("llama.cpp", False, "not installed", "run `make install`", needs_embedded))
    checks.append(_model_check(config, full_checksum, needs_embedded))
    from langgraph_ollama_local.store import check_storage

    ok, message = check_storage(config.resolved_storage_url)
    checks.append(
        Check("storage", ok, message, "fix HITL_STORAGE_URL or start the database" if not ok else "")
    )
    checks.append(_smtp_check(config))
    if config.policy_file:
        from langgraph_ollama_local.approvals import ApprovalPolicy, PolicyError

        try:
            ApprovalPolicy.from_file(config.policy_file)
            checks.append(Check("policy", True, str(config.policy_file)))
        except PolicyError as exc:
            checks.append(Check("policy", False, str(exc), "fix the policy file named above"))
    return checks


def _model_check(config: LocalAgentConfig, full: bool, required: bool) -> Check:
    from langgraph_ollama_local.llm.embedded.model_file import ensure_model_file, verify_model_file
    from langgraph_ollama_local.llm.errors import ProviderError

    try:
        if config.embedded.model_path:
            return Check(
                "model file",
                config.embedded.model_path.is_file(),
                str(config.embedded.model_path),
                "set HITL_EMBEDDED__MODEL_PATH to an existing GGUF file",
                required,
            )
        path = ensure_model_file(config.embedded.cache_dir)
        verify_model_file(path, full=full)
    except ProviderError as exc:
        return Check("model file", False, str(exc), "run `make install`", required)
    return Check("model file", True, f"{path} (sha256 verified)", required=required)


def _smtp_check(config: LocalAgentConfig) -> Check:
    smtp = config.smtp
    if not smtp.host:
        return Check(
            "email", True, f"no SMTP host: send_email writes to the outbox {config.resolved_outbox_dir}"
        )
    try:
        with socket.create_connection((smtp.host, smtp.port), timeout=3):
            pass
    except OSError as exc:
        return Check(
            "email",
            False,
            f"SMTP {smtp.host}:{smtp.port} unreachable: {exc}",
            "start the mail server or fix HITL_SMTP__HOST/PORT",
        )
    return Check("email", True, f"SMTP {smtp.host}:{smtp.port} reachable")


def as_dicts(checks: list[Check]) -> list[dict[str, object]]:
    return [asdict(c) for c in checks]
