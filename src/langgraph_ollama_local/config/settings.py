"""`LocalAgentConfig`: every knob of the package in one pydantic-settings object.

Precedence (highest first): explicit kwargs, `HITL_*` environment variables, a `.env`
file in the working directory, defaults. Nested fields use `__`:
`HITL_OLLAMA__MODEL=qwen2.5:7b`. Ollama's own `OLLAMA_HOST` is honoured for the base
URL so a machine already set up for Ollama needs no extra configuration.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderName = Literal["auto", "ollama", "embedded", "openai"]

DEFAULT_OLLAMA_URL = "http://localhost:11434"


def default_home() -> Path:
    """Where local state (database, outbox) lives unless `HITL_HOME` says otherwise."""
    return Path(os.environ.get("HITL_HOME", Path.home() / ".local/share/langgraph-ollama-local"))


def default_cache_dir() -> Path:
    """Where the joined model file is cached; large and rebuildable, so not in HOME data."""
    base = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    return Path(base) / "langgraph-ollama-local"


def normalize_ollama_host(value: str) -> str:
    """Accept the forms `OLLAMA_HOST` takes (`host`, `host:port`, `0.0.0.0`, full URL)."""
    value = value.strip().rstrip("/")
    if not value:
        return DEFAULT_OLLAMA_URL
    if "://" not in value:
        value = f"http://{value}"
    scheme, rest = value.split("://", 1)
    host = rest.split("/", 1)[0]
    wildcard = "0.0.0.0"  # noqa: S104 - a bind address, not one a client can reach
    if host.startswith(wildcard):
        rest = "localhost" + rest[len(wildcard) :]
        host = rest.split("/", 1)[0]
    if ":" not in host.rsplit("]", 1)[-1]:
        rest = rest.replace(host, f"{host}:11434", 1)
    return f"{scheme}://{rest}"


class OllamaSettings(BaseModel):
    """The spec's `config.ollama.model` / `config.ollama.base_url`."""

    model: str = "llama3.2:3b"
    base_url: str = Field(default_factory=lambda: normalize_ollama_host(os.environ.get("OLLAMA_HOST", "")))
    timeout_seconds: float = 120.0

    @field_validator("base_url")
    @classmethod
    def _normalize(cls, value: str) -> str:
        return normalize_ollama_host(value)


class EmbeddedSettings(BaseModel):
    """The in-process llama.cpp model used when no Ollama is reachable."""

    model_path: Path | None = Field(
        default=None, description="A GGUF file to load instead of the packaged model."
    )
    planner: Literal["qwen2.5-coder-1.5b", "same"] = Field(
        default="qwen2.5-coder-1.5b",
        description="Who plans guided turns: the packaged 1.5B model, or the chat model itself.",
    )
    planner_model_path: Path | None = Field(
        default=None, description="A GGUF file to plan guided turns with, instead of `planner`."
    )
    cache_dir: Path = Field(default_factory=default_cache_dir)
    n_ctx: int = Field(default=4096, ge=512)
    n_threads: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=512, ge=1)
    seed: int = 0
    context_per_prompt_kind: bool = Field(
        default=True,
        description="A llama.cpp context per kind of prompt (plan, call, answer): each keeps its "
        "long fixed prefix evaluated, at the cost of one KV cache each.",
    )
    staged_json: bool = Field(
        default=True,
        description="Write the fixed text of a plan's or a forced call's JSON for the model, which "
        "then samples only the values: the same object in fewer forward passes.",
    )
    lazy_grammar: bool = Field(
        default=True,
        description="Greedy grammar-constrained sampling checks the most likely token against the "
        "grammar first, instead of the whole vocabulary before every token: the same output, faster.",
    )


class OpenAISettings(BaseModel):
    """Any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio)."""

    base_url: str = "http://localhost:8000/v1"
    model: str = "local-model"
    api_key: str = "not-needed"


class SmtpSettings(BaseModel):
    """Where `send_email` delivers. With no host it writes to the local outbox instead."""

    host: str | None = None
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    sender: str = "agent@localhost"
    timeout_seconds: float = 10.0


class NotificationSettings(BaseModel):
    """Who hears about approvals: webhooks for every event, email to a role's approvers."""

    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: str | None = Field(default=None, description="HMAC-SHA256 key for X-HITL-Signature.")
    approvers: dict[str, list[str]] = Field(
        default_factory=dict, description="Role -> email addresses, e.g. {'manager': ['m@corp.com']}."
    )
    email_events: list[str] = Field(
        default_factory=lambda: ["approval.requested", "approval.escalated", "approval.expired"]
    )
    max_attempts: int = Field(default=6, ge=1)
    base_backoff_seconds: float = Field(default=1.0, gt=0)


class AuthSettings(BaseModel):
    """How `hitl serve` knows who is asking. API tokens are always on (`hitl tokens`);
    a JWT issuer is optional. Nothing here can switch authentication off."""

    jwt_issuer: str | None = Field(default=None, description="Expected `iss` of bearer JWTs (OIDC).")
    jwt_audience: str | None = Field(default=None, description="Expected `aud` of bearer JWTs.")
    jwt_jwks_url: str | None = Field(default=None, description="The issuer's JWKS URL.")
    jwt_public_key_file: Path | None = Field(default=None, description="A PEM public key instead of JWKS.")
    jwt_secret: SecretStr | None = Field(default=None, description="An HS256 shared secret instead.")
    jwt_algorithms: list[str] = Field(default_factory=list)
    jwt_user_claim: str = "sub"
    jwt_roles_claim: str = "roles"
    session_secret: SecretStr | None = Field(
        default=None, description="Signs session cookies; default: a random key kept in `home`."
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Keys the audit chain (HMAC-SHA256); default: a random key kept (0600) in `home`. "
        "Every process sharing a database needs the same key.",
    )
    session_max_age_seconds: int = Field(default=12 * 3600, ge=60)
    session_idle_seconds: int = Field(
        default=30 * 60, ge=60, description="A web session with no request for this long ends."
    )
    login_code_seconds: int = Field(
        default=15 * 60, ge=30, le=24 * 3600, description="How long a one-time login link stays valid."
    )
    secure_cookies: bool = Field(default=False, description="Set when served over HTTPS.")
    decision_rate: str = Field(default="60/minute", description="Decisions per identity (limits syntax).")
    session_rate: str = Field(default="10/minute", description="Sign-ins per client address (limits syntax).")
    run_rate: str = Field(default="30/minute", description="Runs started per identity (limits syntax).")
    max_active_runs: int = Field(default=4, ge=1, description="Queued or running runs per identity at once.")
    denial_window_seconds: float = Field(
        default=60.0, gt=0, description="Repeated denials of one client are audited once per window."
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024)

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.jwt_jwks_url or self.jwt_public_key_file or self.jwt_secret)


class RetentionSettings(BaseModel):
    """How much of each thread's checkpoint history is kept (`hitl prune`, and the service
    after each run, in the background).

    LangGraph saves the whole state at every step, so a long conversation's old checkpoints
    are most of the database. Only the latest one is needed to go on (and for a pending
    approval to resume); the ones before it serve time travel (`get_state_history`).
    """

    # On since 2026-12-08: the crash suite (kill -9 under traffic, PostgreSQL) passes with it
    # on (README "Retention"); the unfinished threads once seen with it on matched the liveness
    # misses seen with it off on equally loaded machines.
    enabled: bool = Field(default=True, description="Prune in the background after each run.")
    keep_checkpoints: int = Field(
        default=10,
        ge=1,
        description="Newest checkpoints kept per thread (a turn with one approval writes about 5).",
    )
    threads_per_pass: int = Field(
        default=20, ge=1, description="At most this many threads pruned per sweeper pass (about 1 s)."
    )


class LocalAgentConfig(BaseSettings):
    """Settings for agents, providers, storage and approvals.

    `LocalAgentConfig()` with nothing set gives a working offline setup: provider `auto`
    (Ollama if reachable with the model pulled, else the embedded model), a SQLite file
    under `home`, and email delivered to a local outbox.
    """

    model_config = SettingsConfigDict(
        env_prefix="HITL_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    provider: ProviderName = "auto"
    turns: Literal["auto", "guided", "native"] = Field(
        default="auto",
        description="The agent loop: guided (plan, act, answer) or native; auto: guided on embedded.",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    home: Path = Field(default_factory=default_home)
    storage_url: str | None = Field(
        default=None,
        description="`sqlite:///path.db` (default: under `home`), `postgresql://…`, or `memory`.",
    )
    policy_file: Path | None = Field(default=None, description="A YAML or TOML approval policy.")
    outbox_dir: Path | None = Field(default=None, description="Default: `home/outbox`.")

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        allowed = ("sqlite://", "postgresql://", "postgres://", "postgresql+psycopg://", "memory")
        if not value.startswith(allowed):
            raise ValueError(
                f"storage_url {value!r} is not supported: use sqlite:///path/to/file.db, "
                "postgresql://user@host:5432/db, or memory"
            )
        return value

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"sqlite:///{self.home / 'hitl.sqlite'}"

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir or self.home / "outbox"
