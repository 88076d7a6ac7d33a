"""The FastAPI application. Routes are thin: the runtime and the store do the work.

Every route but `/healthz`, `/readyz` (and the login page) needs an authenticated `Principal`
(`server/security.py`); what it may do comes from the policy's access rules and stage
roles (`auth/authorization.py`). The actor recorded for anything a request does is the
principal's user, never a name taken from a request body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from langchain_core.messages import AIMessage
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth import (
    Principal,
    can_read_full_audit,
    can_start_runs,
    decision_refusal,
)
from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.runtime.host import hosted_runtime
from langgraph_ollama_local.runtime.service import (
    DecisionForbiddenError,
    ForbiddenError,
    InvalidDecisionError,
    ServiceRuntime,
    Settings,
    ThreadBusyError,
    public_request,
)
from langgraph_ollama_local.server.access import ThreadGuard
from langgraph_ollama_local.server.allow import AllowIndex
from langgraph_ollama_local.server.auth_routes import auth_router
from langgraph_ollama_local.server.denials import DenialAggregator
from langgraph_ollama_local.server.deps import User
from langgraph_ollama_local.server.graphs import GraphFactory, builtin_agent
from langgraph_ollama_local.server.langgraph_api import langgraph_api_router, missing_router
from langgraph_ollama_local.server.langgraph_api.document import name_assistants
from langgraph_ollama_local.server.langgraph_api.shapes import assistant_id_of
from langgraph_ollama_local.server.outage import (
    install_outage_handling,
    mark_decision_stored,
)
from langgraph_ollama_local.server.schemas import (
    PROBLEM_RESPONSES,
    ApproveRequest,
    ChatRequest,
    ChatResponse,
    DecisionBody,
    SearchText,
    ThreadId,
    ThreadIdText,
)
from langgraph_ollama_local.server.security import (
    ANONYMOUS,
    SESSION_COOKIE,
    AuthError,
    Security,
    session_secret,
)
from langgraph_ollama_local.server.state_edits import printable
from langgraph_ollama_local.store.approval_store import (
    AlreadyDecidedError,
    InboxQuery,
    NotFoundError,
    Reader,
    ThreadStatus,
)
from langgraph_ollama_local.store.audit import Anchor, anchors_file
from langgraph_ollama_local.store.sessions import SessionStore
from langgraph_ollama_local.store.tokens import TokenStore
from langgraph_ollama_local.web import mount_web

WAIT_SECONDS = 300.0
TOTAL_CAP = 1000  # `GET /approvals?count=capped` counts this many at most
FOR_ME_SCAN = 2000  # `GET /approvals?for_me=true` checks this many role-matching items at most
MONITOR_ROLE = "monitor"
# Thread ids in paths follow the rule of bodies (`schemas.check_thread_id`).


def access_rules_for(config: LocalAgentConfig) -> AccessRules:
    """The access section of the configured policy (the personal policy when none is set)."""
    from langgraph_ollama_local.agent.defaults import default_policy

    return default_policy(config).access


def create_app(
    config: LocalAgentConfig | None = None,
    graph_factory: GraphFactory | None = None,
    *,
    db_url: str | None = None,
    settings: Settings | None = None,
    access: AccessRules | None = None,
    graph_id: str = "agent",
) -> FastAPI:
    config = config or LocalAgentConfig()
    url = db_url or config.resolved_storage_url
    factory = graph_factory or builtin_agent(config)
    rules = access or access_rules_for(config)
    base_settings = settings or Settings()
    runtime_settings = replace(base_settings, access=rules)
    security = Security(config.auth)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with hosted_runtime(config, factory, runtime_settings, url=url) as runtime:
            security.tokens = TokenStore(runtime.store.engine)
            security.sessions = SessionStore(runtime.store.engine)
            app.state.runtime = runtime
            denials = DenialAggregator(
                lambda entry: runtime.store.audit(**entry), config.auth.denial_window_seconds
            )
            app.state.denials = denials
            flusher = asyncio.create_task(denials.run(), name="hitl-denials")
            try:
                yield
            finally:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher

    app = FastAPI(
        title="langgraph-ollama-local",
        version="0.1.0",
        lifespan=lifespan,
        # No Swagger/ReDoc pages: they load scripts from a CDN. The schema is at /openapi.json.
        docs_url=None,
        redoc_url=None,
        max_body_size=config.auth.max_body_bytes,  # 413 before a hostile body is read whole
        responses=PROBLEM_RESPONSES,
    )
    app.state.security = security
    app.state.access = rules
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(config.auth, config.home),
        session_cookie=SESSION_COOKIE,
        max_age=config.auth.session_max_age_seconds,
        same_site="strict",
        https_only=config.auth.secure_cookies,
    )

    def rt(request: HTTPConnection) -> ServiceRuntime:
        runtime: ServiceRuntime = request.app.state.runtime
        return runtime

    def guard(request: HTTPConnection) -> ThreadGuard:
        return ThreadGuard(rt(request).store, rules)

    def allow(denied: Any, principal: Principal) -> None:
        if denied is not None:
            raise AuthError.forbidden(denied, principal)

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:
        await record_denial(request, exc)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    async def record_denial(conn: HTTPConnection, exc: AuthError) -> None:
        """Audited, aggregated per client, actor and rule per window (a flood is two rows)."""
        method = conn.scope.get("method", "WS")
        client = conn.client.host if conn.client else None
        actor = exc.principal.user if exc.principal else ANONYMOUS
        entry: dict[str, Any] = {
            "actor": actor,
            "action": "auth.denied",
            "subject_type": "route",
            "subject_id": f"{method} {conn.url.path}"[:200],
            "data": {
                "status": exc.status,
                "rule": exc.rule,
                "reason": exc.detail[:500],
                "credential": exc.credential,
                "client": client,
            },
        }
        denials: DenialAggregator | None = getattr(conn.app.state, "denials", None)
        if denials is None:  # before start-up finished
            await rt(conn).store.audit(**entry)
            return
        await denials.deny((client or "", actor, f"{exc.status}:{exc.rule}"), entry)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> JSONResponse:
        return await auth_error(request, AuthError.forbidden(exc.denied, exc.principal))

    @app.exception_handler(RequestValidationError)
    async def unprocessable(_: Request, exc: RequestValidationError) -> JSONResponse:
        """Name the field and the rule, never repeat the input: a 422 must not echo a token
        (or text that cannot even be encoded back)."""
        detail = [
            {
                "type": error.get("type"),
                "loc": [printable(part) for part in error.get("loc", ())],
                "msg": printable(error.get("msg", "")),
            }
            for error in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        """A 405 lists every method the API document gives the path (Starlette names only
        the first matching route's): ours and LangGraph's, the 501 ones included."""
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        allowed = allow_index(request.app).methods(request.url.path)
        headers = {"Allow": ", ".join(allowed)} if allowed else dict(exc.headers or {})
        return JSONResponse({"detail": exc.detail}, status_code=405, headers=headers)

    def allow_index(app: FastAPI) -> AllowIndex:
        """Built once per generated document (FastAPI regenerates it when routes change)."""
        document = app.openapi()
        cached: tuple[dict[str, Any], AllowIndex] | None = getattr(app.state, "allow_index", None)
        if cached is None or cached[0] is not document:
            cached = (document, AllowIndex(document.get("paths", {})))
            app.state.allow_index = cached
        return cached[1]

    @app.exception_handler(ThreadBusyError)
    async def busy(_: Request, exc: ThreadBusyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "approval": public_request(exc.pending)}, status_code=409)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(AlreadyDecidedError)
    async def conflict(_: Request, exc: AlreadyDecidedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "approval": public_request(exc.request)}, status_code=409)

    @app.exception_handler(InvalidDecisionError)
    async def invalid(_: Request, exc: InvalidDecisionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    # -- health and metrics -------------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (`/readyz` says whether the database does)."""
        return {"status": "ok"}

    install_outage_handling(app)

    @app.get("/metrics", responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics(request: Request, user: User) -> PlainTextResponse:
        if not (user.has_role(rules.admin_role) or user.has_role(MONITOR_ROLE)):
            raise AuthError(403, f"metrics need the {rules.admin_role!r} or 'monitor' role", "metrics", user)
        data = generate_latest(rt(request).metrics.registry)
        return PlainTextResponse(data.decode(), media_type=CONTENT_TYPE_LATEST)

    # -- the tutorial's endpoints -------------------------------------------------------

    async def thread_summary(runtime: ServiceRuntime, thread_id: str) -> ChatResponse:
        page, _ = await runtime.store.inbox(InboxQuery(thread_id=thread_id, limit=1, count_limit=0))
        action = public_request(page[0]) if page else None
        return ChatResponse(
            response=await runtime.last_reply(thread_id), pending_approval=bool(page), pending_action=action
        )

    async def admit_run(conn: HTTPConnection, user: Principal) -> None:
        """What every new run must pass, whatever route starts it: start role, rate and cap."""
        allow(can_start_runs(user, rules), user)
        security.check_run_rate(user)
        runtime = rt(conn)
        active = await runtime.store.active_runs_by(user.user)
        if active >= config.auth.max_active_runs:
            raise AuthError(
                429,
                f"{user.user} has {active} runs queued or running, the most at once "
                f"(HITL_AUTH__MAX_ACTIVE_RUNS={config.auth.max_active_runs}): wait for one to finish",
                rule="max_active_runs",
                principal=user,
                headers={"Retry-After": "5"},
            )

    async def start_run(conn: HTTPConnection, user: Principal, thread_id: str, message: str) -> Any:
        """Every way to start a run from a message: admission, then thread ownership (the runtime)."""
        await admit_run(conn, user)
        return await rt(conn).submit_message(thread_id, message, principal=user)

    # LangGraph's server API (server/langgraph_api/) starts runs through the same doors.
    app.state.admit_run = admit_run
    app.state.start_message_run = start_run

    @app.post("/chat")
    async def chat(body: ChatRequest, request: Request, user: User) -> ChatResponse:
        runtime = rt(request)
        run = await start_run(request, user, body.thread_id, body.message)
        await runtime.wait_run_end(run.id, WAIT_SECONDS)
        return await thread_summary(runtime, body.thread_id)

    @app.post("/approve")
    async def approve(body: ApproveRequest, request: Request, user: User) -> ChatResponse:
        security.check_decision_rate(user)
        runtime = rt(request)
        facts = await guard(request).read(user, body.thread_id)
        if not facts.exists:
            raise HTTPException(404, f"thread {body.thread_id!r} does not exist")
        page, _ = await runtime.store.inbox(InboxQuery(thread_id=body.thread_id, limit=1, count_limit=0))
        if not page:
            raise HTTPException(409, f"thread {body.thread_id!r} has no pending action to approve")
        answer: dict[str, Any] = {"type": "approve"} if body.approved else {"type": "reject"}
        if not body.approved:
            answer["message"] = body.reason or "cancelled by user"
        await decide_and_wait(runtime, page[0].id, answer, user, request, known=page[0])
        return await thread_summary(runtime, body.thread_id)

    async def decide_and_wait(
        runtime: ServiceRuntime,
        request_id: str,
        answer: Any,
        user: Principal,
        request: Request | None = None,
        *,
        known: ApprovalRequest | None = None,
    ) -> None:
        decided = await runtime.decide(request_id, answer, principal=user, known=known)
        if request is not None:
            mark_decision_stored(request)
        # Subscribed before the runs are read: an end published after that read is caught.
        async with runtime.events.subscribe() as events:
            for run in reversed(await runtime.store.thread_runs(decided.thread_id)):
                if run.status in ("queued", "running"):
                    await runtime.wait_subscribed(events, run, WAIT_SECONDS)
                    break

    async def websocket_principal(websocket: WebSocket, thread_id: str | None = None) -> Principal | None:
        """Authenticate a WebSocket handshake; a cookie session must come from our own origin.

        With a `thread_id`, the thread must be new or readable by this person."""
        try:
            principal = await security.authenticate(websocket)
            origin = websocket.headers.get("origin")
            if (
                principal.via == "session"
                and origin
                and origin.split("://", 1)[-1] != websocket.headers.get("host")
            ):
                raise AuthError(403, f"cross-origin WebSocket from {origin} refused", "origin", principal)
            if thread_id is not None:
                facts = await guard(websocket).store.thread_facts(thread_id)
                if facts.exists:
                    await guard(websocket).read(principal, thread_id)
        except AuthError as exc:
            await record_denial(websocket, exc)
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                denial = JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)
                await websocket.send_denial_response(denial)  # a real HTTP 401/403 on the handshake
            else:
                await websocket.close(code=4401 if exc.status == 401 else 4403, reason=exc.detail[:120])
            return None
        return principal

    @app.websocket("/ws/{thread_id}")
    async def websocket_chat(websocket: WebSocket, thread_id: ThreadId) -> None:
        runtime: ServiceRuntime = websocket.app.state.runtime
        user = await websocket_principal(websocket, thread_id)
        if user is None:
            return
        await websocket.accept()
        try:
            while True:
                data = await websocket.receive_json()
                kind = data.get("type") if isinstance(data, dict) else None
                if kind == "message" and isinstance(data.get("content"), str):
                    try:
                        run = await start_run(websocket, user, thread_id, data["content"])
                    except AuthError as exc:
                        await record_denial(websocket, exc)
                        await websocket.send_json({"type": "error", "content": exc.detail})
                        continue
                    except ForbiddenError as exc:
                        await record_denial(websocket, AuthError.forbidden(exc.denied, user))
                        await websocket.send_json({"type": "error", "content": exc.denied.reason})
                        continue
                    except ThreadBusyError as exc:
                        await websocket.send_json({"type": "error", "content": str(exc)})
                        continue
                    await runtime.wait_run_end(run.id, WAIT_SECONDS)
                    summary = await thread_summary(runtime, thread_id)
                    await websocket.send_json(
                        {
                            "type": "response",
                            "content": summary.response,
                            "pending_approval": summary.pending_approval,
                            "pending_action": summary.pending_action,
                        }
                    )
                elif kind == "approve" and isinstance(data.get("approved"), bool):
                    try:
                        await guard(websocket).read(user, thread_id)
                    except AuthError as exc:
                        await record_denial(websocket, exc)
                        await websocket.send_json({"type": "error", "content": exc.detail})
                        continue
                    page, _ = await runtime.store.inbox(InboxQuery(thread_id=thread_id))
                    if not page:
                        await websocket.send_json({"type": "error", "content": "no pending action"})
                        continue
                    answer = (
                        {"type": "approve"}
                        if data["approved"]
                        else {"type": "reject", "message": "cancelled"}
                    )
                    try:
                        security.check_decision_rate(user)
                        await decide_and_wait(runtime, page[0].id, answer, user, known=page[0])
                    except DecisionForbiddenError as exc:
                        await record_denial(websocket, AuthError.forbidden(exc.denied, user))
                        await websocket.send_json({"type": "error", "content": exc.denied.reason})
                        continue
                    except AuthError as exc:
                        await record_denial(websocket, exc)
                        await websocket.send_json({"type": "error", "content": exc.detail})
                        continue
                    except (InvalidDecisionError, AlreadyDecidedError) as exc:
                        await websocket.send_json({"type": "error", "content": str(exc)})
                        continue
                    summary = await thread_summary(runtime, thread_id)
                    if data["approved"]:
                        await websocket.send_json(
                            {
                                "type": "response",
                                "content": summary.response,
                                "pending_approval": summary.pending_approval,
                            }
                        )
                    else:
                        await websocket.send_json({"type": "cancelled", "content": "Action cancelled"})
                else:
                    await websocket.send_json(
                        {
                            "type": "error",
                            "content": 'send {"type": "message", "content": ...} or '
                            '{"type": "approve", "approved": true|false}',
                        }
                    )
        except WebSocketDisconnect:
            return

    # -- resources ------------------------------------------------------------------------

    @app.get("/threads")
    async def list_threads(
        request: Request,
        user: User,
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=10**9),
        status: Annotated[
            ThreadStatus | None,
            Query(
                description="only threads whose latest run leaves them in this state (LangGraph's thread "
                "statuses: `interrupted` waits for a person, `busy` is queued or running, `idle` "
                "finished or never ran, `error` failed)",
            ),
        ] = None,
    ) -> Any:
        """The threads this person may read (owner, approver, admin, access.read_roles), newest
        first; each with its `status`, `updated_at` and how many requests are `pending` in it."""
        rows = await rt(request).store.list_threads(
            limit, offset, reader=guard(request).reader(user), status=status
        )
        return [
            {**r, "created_at": r["created_at"].isoformat(), "updated_at": r["updated_at"].isoformat()}
            for r in rows
        ]

    # `/threads/{id}/state` and `/threads/{id}/runs` (ours and LangGraph's bodies): langgraph_api/

    @app.get("/runs/{run_id}")
    async def get_run(run_id: str, request: Request, user: User) -> Any:
        return run_json(await readable_run(request, user, run_id))

    @app.get("/runs/{run_id}/wait")
    async def wait_run(
        run_id: str, request: Request, user: User, seconds: float = Query(60, gt=0, le=600)
    ) -> Any:
        await readable_run(request, user, run_id)
        return run_json(await rt(request).wait_run(run_id, seconds))

    async def readable_run(request: Request, user: Principal, run_id: str) -> Any:
        """The run, if its thread is readable by `user` (403 otherwise, 404 when no such run)."""
        run = await rt(request).store.get_run(run_id)
        await guard(request).read(user, run.thread_id)
        return run

    def run_json(run: Any) -> dict[str, Any]:
        data = asdict(run)
        for key in ("created_at", "started_at", "finished_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data

    # -- the approval inbox ---------------------------------------------------------------

    @app.get("/approvals")
    async def list_approvals(
        request: Request,
        user: User,
        status: str | None = Query("pending"),
        tool: str | None = None,
        thread_id: ThreadIdText | None = None,
        role: str | None = None,
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=10**9),
        count: Literal["exact", "capped"] = Query(
            "exact",
            description=f"`capped` counts at most {TOTAL_CAP} matches (flat with any backlog); "
            "`total_is_exact` says whether `total` is the full count",
        ),
        q: SearchText | None = None,  # a substring of the tool, summary, thread id or requester
        for_me: bool = Query(
            False,
            description="only pending items the caller may decide now (`viewer.can_decide`); "
            f"checks at most {FOR_ME_SCAN} items that need one of the caller's roles",
        ),
    ) -> Any:
        if thread_id:
            await guard(request).read(user, thread_id)
        runtime = rt(request)
        query = InboxQuery(
            reader=guard(request).reader(user),
            status=None if status == "all" else status,
            tool=tool,
            thread_id=thread_id,
            role=role,
            limit=limit,
            offset=offset,
            count_limit=TOTAL_CAP + 1 if count == "capped" else None,
            q=q.strip() or None if q else None,  # only spaces: no search
        )
        now = await runtime.now()
        if for_me:
            # Role in SQL, then the very check the decision route makes, per item.
            scan = replace(
                query,
                status="pending",
                decider=Reader(user.user, user.roles),
                limit=FOR_ME_SCAN,
                offset=0,
                count_limit=0,
            )
            candidates, _ = await runtime.store.inbox(scan)
            mine = [r for r in candidates if decision_refusal(user, r, rules, now) is None]
            page, total = mine[offset : offset + limit], len(mine)
            exact = len(candidates) < FOR_ME_SCAN
        else:
            page, total = await runtime.store.inbox(query)
            exact = total <= TOTAL_CAP or count == "exact"
            total = total if exact else TOTAL_CAP
        return {
            "items": [with_viewer(r, user, now) for r in page],
            "total": total,
            "total_is_exact": exact,
            "limit": limit,
            "offset": offset,
        }

    def with_viewer(item: ApprovalRequest, user: Principal, now: datetime) -> dict[str, Any]:
        """The item as the API shows it, plus what this caller may do with it (`viewer`)."""
        denied = decision_refusal(user, item, rules, now)
        viewer = {"can_decide": denied is None, "reason": None if denied is None else denied.reason}
        return {**public_request(item), "viewer": viewer}

    @app.get("/approvals/{request_id}")
    async def get_approval(request_id: str, request: Request, user: User) -> Any:
        runtime = rt(request)
        item = await runtime.store.get(request_id)
        await guard(request).read(user, item.thread_id)
        shown = with_viewer(item, user, await runtime.now())
        return {**shown, "payload": item.payload, "response_schema": item.response_schema}

    @app.post("/approvals/{request_id}/decision")
    async def decide(request_id: str, body: DecisionBody, request: Request, user: User) -> Any:
        security.check_decision_rate(user)
        runtime = rt(request)
        await guard(request).decide_on(user, await runtime.store.get(request_id))
        answer: Any
        if body.type == "answer":
            answer = body.value
        elif body.type == "edit":
            if body.args is None:
                raise HTTPException(422, "an edit needs 'args'")
            answer = {"type": "edit", "args": body.args}
        else:
            answer = {"type": body.type}
            text = body.reason if body.type == "reject" else body.message
            if text is not None:
                answer["message"] = text
        decided = await runtime.decide(request_id, answer, principal=user)
        mark_decision_stored(request)
        return public_request(decided)

    # -- live events and audit -----------------------------------------------------------

    @app.get("/events")
    async def events(request: Request, user: User) -> EventSourceResponse:
        """Live events of the threads this person may read (the same rule as `GET /threads`)."""
        runtime = rt(request)
        visible = guard(request).events(user)

        async def stream() -> AsyncIterator[dict[str, str]]:
            async with runtime.events.subscribe() as queue:
                yield {"event": "ready", "data": "{}"}
                while True:
                    event = await queue.get()
                    if await visible.allows(event):
                        yield {"event": event["type"], "data": json.dumps(event, default=str)}

        return EventSourceResponse(stream(), ping=15)

    @app.websocket("/events/ws")
    async def events_ws(websocket: WebSocket) -> None:
        runtime: ServiceRuntime = websocket.app.state.runtime
        user = await websocket_principal(websocket)
        if user is None:
            return
        visible = guard(websocket).events(user)
        async with runtime.events.subscribe() as queue:  # before accepting: no event is missed
            await websocket.accept()
            try:
                while True:
                    event = await queue.get()
                    if await visible.allows(event):
                        await websocket.send_text(json.dumps(event, default=str))
            except (WebSocketDisconnect, asyncio.CancelledError):
                return

    @app.get("/audit")
    async def audit(
        request: Request,
        user: User,
        thread_id: ThreadIdText | None = None,
        after_seq: int = Query(0, ge=0, le=2**62),
        limit: int = Query(100, ge=1, le=1000),
    ) -> Any:
        if not thread_id:
            allow(can_read_full_audit(user, rules), user)
        else:
            await guard(request).read(user, thread_id)
        entries = await rt(request).store.audit_entries(thread_id=thread_id, after_seq=after_seq, limit=limit)
        return [{**asdict(e), "at": e.at.isoformat()} for e in entries]

    @app.get("/audit/verify")
    async def audit_verify(request: Request, user: User) -> Any:
        """The chain, keyed, checked against the newest anchor in $HITL_HOME/audit-anchors.jsonl."""
        allow(can_read_full_audit(user, rules), user)
        anchor = Anchor.last_in(anchors_file(config))
        return asdict(await rt(request).store.verify_audit(anchor=anchor))

    app.include_router(auth_router(security))
    app.include_router(langgraph_api_router(graph_id))
    app.include_router(missing_router())
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return name_assistants(generate_openapi(), [graph_id, assistant_id_of(graph_id)])

    app.openapi = openapi  # type: ignore[method-assign]
    mount_web(app)
    return app


def last_ai_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, AIMessage) and not message.tool_calls:
            return str(message.content)
    return ""
