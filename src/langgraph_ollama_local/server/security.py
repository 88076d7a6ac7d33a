"""Authentication, CSRF, rate limits and denials for the HTTP service.

Credentials, in order: `Authorization: Bearer` (an API token from `hitl tokens`, or a
JWT when an issuer is configured; LangGraph's clients send the same as `x-api-key`), then
the web page's signed session cookie. A cookie
alone never authorizes a state-changing request: it must come with the session's CSRF
token in `X-CSRF-Token` (double submit), and the cookie is `SameSite=Strict`.
Every refusal is an `AuthError`, which the app answers with 401/403/429 and records in
the audit log.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from langgraph_ollama_local.auth import Denied, Principal, token_id_of
from langgraph_ollama_local.auth.jwt import JwtRejected, JwtVerifier
from langgraph_ollama_local.config.settings import AuthSettings
from langgraph_ollama_local.store.files import private_dir, write_private
from langgraph_ollama_local.store.sessions import SessionStore
from langgraph_ollama_local.store.tokens import TokenStore

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
API_KEY_HEADER = "x-api-key"  # what LangGraph's clients send; the same tokens as Bearer
SESSION_COOKIE = "hitl_session"
ANONYMOUS = "anonymous"


@dataclass
class AuthError(Exception):
    """A refused request: the status, a message that says what to do, and who asked."""

    status: int
    detail: str
    rule: str = "authentication"
    principal: Principal | None = None
    credential: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def forbidden(cls, denied: Denied, principal: Principal) -> AuthError:
        return cls(403, denied.reason, rule=denied.rule, principal=principal)


def session_secret(settings: AuthSettings, home: Path) -> str:
    """The configured secret, or a random one kept (0600) in `home` across restarts."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    path = home / "session.key"
    private_dir(home)
    if not path.exists():
        write_private(path, secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def jwt_verifier(settings: AuthSettings) -> JwtVerifier | None:
    if not settings.jwt_enabled:
        return None
    return JwtVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_url=settings.jwt_jwks_url,
        public_key_file=settings.jwt_public_key_file,
        secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        algorithms=settings.jwt_algorithms or None,
        user_claim=settings.jwt_user_claim,
        roles_claim=settings.jwt_roles_claim,
    )


class Security:
    def __init__(self, settings: AuthSettings, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.jwt = jwt_verifier(settings)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tokens: TokenStore | None = None  # set when the database is open
        self.sessions: SessionStore | None = None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._decision_rate = parse(settings.decision_rate)
        self._session_rate = parse(settings.session_rate)
        self._run_rate = parse(settings.run_rate)

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        """Who this request acts as; raises a 401 `AuthError` when nobody is proven."""
        header = conn.headers.get("authorization")
        if header is None and conn.headers.get(API_KEY_HEADER):
            header = f"Bearer {conn.headers[API_KEY_HEADER]}"  # langgraph-sdk's `api_key`
        if header is not None:
            return await self._bearer(header)
        session = conn.scope.get("session") or {}
        if session.get("sid"):
            assert self.sessions is not None, "session store not open"
            live = await self.sessions.active(
                str(session["sid"]),
                now=self.clock(),
                idle=timedelta(seconds=self.settings.session_idle_seconds),
            )
            principal = await self._from_token_id(live.token_id) if live else None
            if principal is None:
                conn.scope["session"].clear()
                raise AuthError(
                    401,
                    "your session ended (signed out, idle for "
                    f"{self.settings.session_idle_seconds // 60} min, expired, or its token was revoked): "
                    "log in again",
                )
            return Principal(principal.user, principal.roles, via="session", token_id=principal.token_id)
        raise AuthError(
            401,
            "authentication required: send 'Authorization: Bearer <token>' (create one with "
            "`hitl tokens create NAME --role approver`) or log in at /login",
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def _bearer(self, header: str) -> Principal:
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise AuthError(
                401,
                "the Authorization header must be 'Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if self.jwt is not None and JwtVerifier.looks_like_jwt(value):
            try:
                return self.jwt.verify(value)
            except JwtRejected as exc:
                raise AuthError(
                    401,
                    str(exc),
                    credential="jwt",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                ) from exc
        assert self.tokens is not None, "token store not open"
        record = await self.tokens.authenticate(value, self.clock())
        if record is None:
            token_id = token_id_of(value)
            raise AuthError(
                401,
                "the bearer token is unknown, revoked or expired: ask an admin for a new one "
                "(`hitl tokens create`)",
                credential=f"token:{token_id}" if token_id else "token:malformed",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return record.principal()

    async def _from_token_id(self, token_id: str) -> Principal | None:
        assert self.tokens is not None, "token store not open"
        try:
            record = await self.tokens.get(token_id)
        except LookupError:
            return None
        return record.principal() if record.active(self.clock()) else None

    @staticmethod
    def check_csrf(conn: HTTPConnection, method: str, principal: Principal) -> None:
        """Cookie-authenticated writes must echo the session's CSRF token."""
        if principal.via != "session" or method not in UNSAFE_METHODS:
            return
        expected = (conn.scope.get("session") or {}).get("csrf")
        sent = conn.headers.get(CSRF_HEADER, "")
        if not expected or not secrets.compare_digest(str(expected).encode(), sent.encode()):
            raise AuthError(
                403,
                "missing or wrong X-CSRF-Token header: reload the page (cookie sessions must send "
                "the token from /auth/me with every change)",
                rule="csrf",
                principal=principal,
            )

    def check_decision_rate(self, principal: Principal) -> None:
        self._limit(self._decision_rate, "decide", principal.user, "decisions", principal)

    def check_run_rate(self, principal: Principal) -> None:
        """Runs started per identity (each one may be an LLM run)."""
        self._limit(self._run_rate, "run", principal.user, "runs started", principal)

    def check_session_rate(self, conn: HTTPConnection) -> None:
        """Sign-ins per client address: nobody is known yet, so the address is the identity."""
        client = conn.client.host if conn.client else "unknown"
        self._limit(self._session_rate, "session", client, "sign-ins", None, who=f"client {client}")

    def _limit(
        self, rate: RateLimitItem, scope: str, key: str, what: str, principal: Principal | None, who: str = ""
    ) -> None:
        if self._limiter.hit(rate, scope, key):
            return
        reset, _ = self._limiter.get_window_stats(rate, scope, key)
        retry = max(int(reset - datetime.now(UTC).timestamp()), 1)
        raise AuthError(
            429,
            f"too many {what} from {who or key}: at most {rate}; try again in {retry} s",
            rule="rate_limit",
            principal=principal,
            headers={"Retry-After": str(retry)},
        )

    async def start_session(self, conn: HTTPConnection, principal: Principal) -> str:
        """A server-side session for this token's principal; the cookie names it, nothing more."""
        assert self.sessions is not None and principal.token_id is not None
        session_id = await self.sessions.start(
            principal.token_id,
            principal.user,
            now=self.clock(),
            max_age=timedelta(seconds=self.settings.session_max_age_seconds),
        )
        csrf = secrets.token_urlsafe(32)
        conn.scope["session"].clear()
        conn.scope["session"].update({"sid": session_id, "csrf": csrf})
        return csrf

    async def end_session(self, conn: HTTPConnection, principal: Principal) -> None:
        session_id = (conn.scope.get("session") or {}).get("sid")
        if session_id and self.sessions is not None:
            await self.sessions.end(str(session_id), by=principal.user, now=self.clock())
        conn.scope["session"].clear()
