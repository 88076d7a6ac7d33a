"""The FastAPI application. Routes are thin: the runtime and the store do the work.

The acting identity is `local` until authentication lands (see the open security issue);
it is never read from a request body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse
from langchain_core.messages import AIMessage, messages_to_dict
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sse_starlette.sse import EventSourceResponse

from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.runtime.notify import NotificationDispatcher
from langgraph_ollama_local.runtime.service import (
    InvalidDecisionError,
    ServiceRuntime,
    Settings,
    public_request,
)
from langgraph_ollama_local.server.graphs import GraphFactory, builtin_agent
from langgraph_ollama_local.server.schemas import (
    ApproveRequest,
    ChatRequest,
    ChatResponse,
    DecisionBody,
    RunCreate,
    StateUpdate,
)
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import (
    AlreadyDecidedError,
    ApprovalStore,
    InboxQuery,
    NotFoundError,
)

ACTOR = "local"
WAIT_SECONDS = 300.0


def create_app(
    config: LocalAgentConfig | None = None,
    graph_factory: GraphFactory | None = None,
    *,
    db_url: str | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    config = config or LocalAgentConfig()
    url = db_url or config.resolved_storage_url
    factory = graph_factory or builtin_agent(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_async_checkpointer(url) as saver:
            store = await ApprovalStore.open(url)
            dispatcher = NotificationDispatcher(store, config)
            runtime = ServiceRuntime(
                factory(saver), store, notifier=dispatcher, settings=settings or Settings()
            )
            await runtime.start()
            await dispatcher.start()
            app.state.runtime = runtime
            try:
                yield
            finally:
                await dispatcher.stop()
                await runtime.stop()
                await store.close()

    app = FastAPI(title="langgraph-ollama-local", version="0.1.0", lifespan=lifespan)

    def rt(request: Request) -> ServiceRuntime:
        runtime: ServiceRuntime = request.app.state.runtime
        return runtime

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
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics(request: Request) -> PlainTextResponse:
        data = generate_latest(rt(request).metrics.registry)
        return PlainTextResponse(data.decode(), media_type=CONTENT_TYPE_LATEST)

    # -- the tutorial's endpoints -------------------------------------------------------

    async def thread_summary(runtime: ServiceRuntime, thread_id: str) -> ChatResponse:
        page, _ = await runtime.store.inbox(InboxQuery(thread_id=thread_id))
        action = public_request(page[0]) if page else None
        return ChatResponse(
            response=await runtime.last_reply(thread_id), pending_approval=bool(page), pending_action=action
        )

    @app.post("/chat")
    async def chat(body: ChatRequest, request: Request) -> ChatResponse:
        runtime = rt(request)
        run = await runtime.submit_message(body.thread_id, body.message, actor=ACTOR)
        await runtime.wait_run(run.id, WAIT_SECONDS)
        return await thread_summary(runtime, body.thread_id)

    @app.post("/approve")
    async def approve(body: ApproveRequest, request: Request) -> ChatResponse:
        runtime = rt(request)
        if not await runtime.store.thread_exists(body.thread_id):
            raise HTTPException(404, f"thread {body.thread_id!r} does not exist")
        page, _ = await runtime.store.inbox(InboxQuery(thread_id=body.thread_id))
        if not page:
            raise HTTPException(409, f"thread {body.thread_id!r} has no pending action to approve")
        answer: dict[str, Any] = {"type": "approve"} if body.approved else {"type": "reject"}
        if not body.approved:
            answer["message"] = body.reason or "cancelled by user"
        await decide_and_wait(runtime, page[0].id, answer)
        return await thread_summary(runtime, body.thread_id)

    async def decide_and_wait(runtime: ServiceRuntime, request_id: str, answer: Any) -> None:
        decided = await runtime.decide(request_id, answer, actor=ACTOR)
        for run in reversed(await runtime.store.thread_runs(decided.thread_id)):
            if run.status in ("queued", "running"):
                await runtime.wait_run(run.id, WAIT_SECONDS)
                break

    @app.websocket("/ws/{thread_id}")
    async def websocket_chat(websocket: WebSocket, thread_id: str) -> None:
        runtime: ServiceRuntime = websocket.app.state.runtime
        await websocket.accept()
        try:
            while True:
                data = await websocket.receive_json()
                kind = data.get("type") if isinstance(data, dict) else None
                if kind == "message" and isinstance(data.get("content"), str):
                    run = await runtime.submit_message(thread_id, data["content"], actor=ACTOR)
                    await runtime.wait_run(run.id, WAIT_SECONDS)
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
                    page, _ = await runtime.store.inbox(InboxQuery(thread_id=thread_id))
                    if not page:
                        await websocket.send_json({"type": "error", "content": "no pending action"})
                        continue
                    answer = (
                        {"type": "approve"}
                        if data["approved"]
                        else {"type": "reject", "message": "cancelled"}
                    )
                    await decide_and_wait(runtime, page[0].id, answer)
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
        request: Request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)
    ) -> Any:
        rows = await rt(request).store.list_threads(limit, offset)
        return [{**r, "created_at": r["created_at"].isoformat()} for r in rows]

    @app.get("/threads/{thread_id}/state")
    async def thread_state(thread_id: str, request: Request) -> Any:
        runtime = rt(request)
        if not await runtime.store.thread_exists(thread_id):
            raise HTTPException(404, f"thread {thread_id!r} does not exist")
        state = await runtime.graph.aget_state(runtime.config(thread_id))
        values = dict(state.values or {})
        if "messages" in values:
            values["messages"] = messages_to_dict(values["messages"])
        return {
            "values": json.loads(json.dumps(values, default=str)),
            "next": list(state.next),
            "interrupts": [{"id": i.id, "value": i.value} for i in state.interrupts],
        }

    @app.post("/threads/{thread_id}/state")
    async def update_thread_state(thread_id: str, body: StateUpdate, request: Request) -> Any:
        runtime = rt(request)
        if not await runtime.store.thread_exists(thread_id):
            raise HTTPException(404, f"thread {thread_id!r} does not exist")
        values = dict(body.values)
        if isinstance(values.get("messages"), list):
            from langchain_core.messages import messages_from_dict

            try:
                values["messages"] = messages_from_dict(values["messages"])
            except (KeyError, TypeError, ValueError) as exc:
                raise HTTPException(422, f"messages must be LangChain message dicts: {exc}") from exc
        try:
            await runtime.graph.aupdate_state(runtime.config(thread_id), values, as_node=body.as_node)
        except Exception as exc:
            raise HTTPException(422, f"state update refused: {exc}") from exc
        await runtime.store.audit(
            actor=ACTOR,
            action="thread.state_updated",
            subject_type="thread",
            subject_id=thread_id,
            thread_id=thread_id,
            data={"keys": sorted(values)},
        )
        return {"ok": True}

    @app.post("/threads/{thread_id}/runs", status_code=202)
    async def create_run(thread_id: str, body: RunCreate, request: Request) -> Any:
        run = await rt(request).submit_message(thread_id, body.message, actor=ACTOR)
        return run_json(run)

    @app.get("/runs/{run_id}")
    async def get_run(run_id: str, request: Request) -> Any:
        return run_json(await rt(request).store.get_run(run_id))

    @app.get("/runs/{run_id}/wait")
    async def wait_run(run_id: str, request: Request, seconds: float = Query(60, gt=0, le=600)) -> Any:
        return run_json(await rt(request).wait_run(run_id, seconds))

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
        status: str | None = Query("pending"),
        tool: str | None = None,
        thread_id: str | None = None,
        role: str | None = None,
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> Any:
        query = InboxQuery(
            status=None if status == "all" else status,
            tool=tool,
            thread_id=thread_id,
            role=role,
            limit=limit,
            offset=offset,
        )
        page, total = await rt(request).store.inbox(query)
        return {"items": [public_request(r) for r in page], "total": total, "limit": limit, "offset": offset}

    @app.get("/approvals/{request_id}")
    async def get_approval(request_id: str, request: Request) -> Any:
        item = await rt(request).store.get(request_id)
        return {**public_request(item), "payload": item.payload, "response_schema": item.response_schema}

    @app.post("/approvals/{request_id}/decision")
    async def decide(request_id: str, body: DecisionBody, request: Request) -> Any:
        runtime = rt(request)
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
        decided = await runtime.decide(request_id, answer, actor=ACTOR)
        return public_request(decided)

    # -- live events and audit -----------------------------------------------------------

    @app.get("/events")
    async def events(request: Request) -> EventSourceResponse:
        runtime = rt(request)

        async def stream() -> AsyncIterator[dict[str, str]]:
            async with runtime.events.subscribe() as queue:
                yield {"event": "ready", "data": "{}"}
                while True:
                    event = await queue.get()
                    yield {"event": event["type"], "data": json.dumps(event, default=str)}

        return EventSourceResponse(stream(), ping=15)

    @app.websocket("/events/ws")
    async def events_ws(websocket: WebSocket) -> None:
        runtime: ServiceRuntime = websocket.app.state.runtime
        await websocket.accept()
        async with runtime.events.subscribe() as queue:
            try:
                while True:
                    event = await queue.get()
                    await websocket.send_text(json.dumps(event, default=str))
            except (WebSocketDisconnect, asyncio.CancelledError):
                return

    @app.get("/audit")
    async def audit(
        request: Request,
        thread_id: str | None = None,
        after_seq: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=1000),
    ) -> Any:
        entries = await rt(request).store.audit_entries(thread_id=thread_id, after_seq=after_seq, limit=limit)
        return [{**asdict(e), "at": e.at.isoformat()} for e in entries]

    @app.get("/audit/verify")
    async def audit_verify(request: Request) -> Any:
        return asdict(await rt(request).store.verify_audit())

    return app


def last_ai_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, AIMessage) and not message.tool_calls:
            return str(message.content)
    return ""
