"""`/auth/*`: exchange an API token for a web session, ask who you are, log out.

The page never keeps the token: it is posted once, checked, and replaced by an HttpOnly,
SameSite=Strict session cookie plus a CSRF token the page sends back on every change.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.server.deps import User
from langgraph_ollama_local.server.schemas import _Body
from langgraph_ollama_local.server.security import AuthError, Security


class TokenLogin(_Body):
    """Sign in with an API token pasted into the form."""

    token: str = Field(min_length=1, max_length=500, description="An API token from `hitl tokens create`.")


class CodeLogin(_Body):
    """Sign in with the one-time code of a login link (`hitl tokens link`)."""

    code: str = Field(min_length=1, max_length=200, description="Valid minutes, used once.")


SessionLogin = TokenLogin | CodeLogin


class Me(BaseModel):
    user: str
    roles: list[str]
    via: str
    csrf_token: str | None = Field(description="Send as X-CSRF-Token with every change (cookie sessions).")


def auth_router(security: Security) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["auth"])

    def me(request: Request, principal: Principal) -> Me:
        csrf = request.session.get("csrf") if principal.via == "session" else None
        return Me(user=principal.user, roles=sorted(principal.roles), via=principal.via, csrf_token=csrf)

    @router.post("/session")
    async def login(body: SessionLogin, request: Request) -> Me:
        """Start a browser session from an API token (JWTs are for API clients)."""
        assert security.tokens is not None and security.sessions is not None
        security.check_session_rate(request)
        now = security.clock()
        if isinstance(body, CodeLogin):
            token_id = await security.sessions.redeem_login_code(body.code.strip(), now=now)
            try:
                record = await security.tokens.get(token_id) if token_id else None
            except LookupError:
                record = None
            if record is None or not record.active(now):
                raise AuthError(
                    401,
                    "that login link is used, expired or unknown: ask for a new one "
                    "(`hitl tokens link ID`) or paste your API token",
                    credential="login_code",
                )
        else:
            found = await security.tokens.authenticate(body.token.strip(), now)
            if found is None:
                raise AuthError(
                    401, "that token is unknown, revoked or expired: check it or ask an admin for a new one"
                )
            record = found
        principal = record.principal()
        await security.start_session(request, principal)
        session_principal = Principal(
            principal.user, principal.roles, via="session", token_id=principal.token_id
        )
        return me(request, session_principal)

    @router.get("/me")
    async def whoami(request: Request, user: User) -> Me:
        return me(request, user)

    @router.post("/logout")
    async def logout(request: Request, user: User) -> dict[str, Any]:
        await security.end_session(request, user)  # ends it server side: a copied cookie dies too
        return {"ok": True, "user": user.user}

    return router
