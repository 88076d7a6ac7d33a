"""FastAPI dependencies shared by the routers: who is asking (`User`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.server.security import Security

bearer_scheme = HTTPBearer(auto_error=False, description="An API token from `hitl tokens create`, or a JWT.")


async def authenticated(
    request: Request, _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Principal:
    """The request's principal; cookie-authenticated writes must carry the CSRF token."""
    security: Security = request.app.state.security
    principal = await security.authenticate(request)
    security.check_csrf(request, request.method, principal)
    return principal


User = Annotated[Principal, Depends(authenticated)]
