"""LangGraph's server API over the same runtime as our own routes.

Runs go through the durable run queue; a resume is a decision (`ServiceRuntime.decide`,
the code path of `POST /approvals/{id}/decision`), so a client cannot resume a gated call
past the policy. Every "may this principal see / write this thread" question goes
through `access.thread_access`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from langchain_core.messages import convert_to_messages, messages_from_dict
from sse_starlette.sse import EventSourceResponse

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth import Principal, can_decide
from langgraph_ollama_local.runtime.jsonable import to_jsonable
from langgraph_ollama_local.runtime.service import STREAM_MODES, ServiceRuntime
from langgraph_ollama_local.server.deps import User
from langgraph_ollama_local.server.langgraph_api.access import ThreadAction, thread_access
from langgraph_ollama_local.server.langgraph_api.bodies import (
    AssistantSearch,
    HistoryQuery,
    RunBody,
    RunRequest,
    StateUpdate,
    ThreadCreate,
    ThreadSearch,
)
from langgraph_ollama_local.server.langgraph_api.resume import ResumeError, answers_for, ignore_answers
from langgraph_ollama_local.server.langgraph_api.shapes import (
    assistant_id_of,
    assistant_json,
    checkpoint_json,
    run_json,
    state_json,
    thread_json,
    values_json,
    wait_json,
)
from langgraph_ollama_local.server.schemas import Problem, RunCreate, ThreadId
from langgraph_ollama_local.server.security import AuthError, Security
from langgraph_ollama_local.server.state_edits import jsonable_state, mark_edited, printable, state_diff
from langgraph_ollama_local.store.approval_store import (
    InboxQuery,
    NotFoundError,
    Run,
    ThreadQuery,
    ThreadRow,
)

WAIT_SECONDS = 300.0
ACTIVE = ("queued", "running")
RESERVED_CONFIGURABLE = frozenset({"thread_id"})
SSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"schema": {"description": "each event's data: one line of JSON"}}},
        "description": "Server-sent events: metadata, the asked stream modes' chunks, (error), end",
    }
}
JSON_OK: dict[int | str, dict[str, Any]] = {200: {"description": "OK"}}
NOT_IMPLEMENTED: dict[int | str, dict[str, Any]] = {
    501: {"model": Problem, "description": "A LangGraph API feature hitl serve does not implement (named)"}
}


SEARCH_BATCH = 100  # threads read per store query while filling a page of readable ones


def not_implemented(what: str) -> HTTPException:
    return HTTPException(
        501,
        f"{what} is not implemented by hitl serve's LangGraph API; see README "
        "'Use it from LangGraph's clients' for what is",
    )


def langgraph_api_router(graph_id: str) -> APIRouter:
    """Routes at the root of the app; `graph_id` is the served graph's assistant name."""
    router = APIRouter(tags=["LangGraph server API"], responses=NOT_IMPLEMENTED)
    started = datetime.now(UTC)
    default_assistant = assistant_id_of(graph_id)

    def rt(request: Request) -> ServiceRuntime:
        runtime: ServiceRuntime = request.app.state.runtime
        return runtime

    def rules(request: Request) -> AccessRules:
        access: AccessRules = request.app.state.access
        return access

    async def require(request: Request, user: Principal, thread_id: str, action: ThreadAction) -> None:
        denied = await thread_access(rt(request).store, user, thread_id, action, rules(request))
        if denied is not None:
            raise AuthError.forbidden(denied, user)

    def assistant(assistant_id: str | None) -> str:
        if assistant_id in (graph_id, default_assistant):
            return graph_id
        raise HTTPException(
            404,
            f"assistant {assistant_id!r} not found: this server serves the graph {graph_id!r} "
            f"(assistant_id {default_assistant!r}; either name works)",
        )

    async def known_thread(runtime: ServiceRuntime, thread_id: str) -> ThreadRow:
        try:
            return await runtime.store.get_thread(thread_id)
        except NotFoundError:
            raise HTTPException(404, f"thread {thread_id!r} does not exist") from None

    async def pending(runtime: ServiceRuntime, thread_id: str) -> list[ApprovalRequest]:
        page, _ = await runtime.store.inbox(InboxQuery(thread_id=thread_id, limit=500, count_limit=0))
        return page

    # -- server ------------------------------------------------------------------------

    @router.get("/ok")
    async def ok(_user: User) -> dict[str, bool]:
        return {"ok": True}

    @router.get("/info")
    async def info(_user: User) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "version": version("langgraph-ollama-local"),
            "langgraph_py_version": version("langgraph"),
            "flags": {"assistants": True, "crons": False, "langsmith": False},
            "host": {"kind": "hitl serve"},
            "metadata": {"approvals": True},
        }

    # -- assistants: one per served graph ---------------------------------------------

    @router.post("/assistants/search")
    async def search_assistants(body: AssistantSearch, _user: User) -> list[dict[str, Any]]:
        found = assistant_json(graph_id, started)
        wanted = (body.graph_id in (None, graph_id)) and (body.name in (None, graph_id))
        wanted = wanted and all(found["metadata"].get(k) == v for k, v in (body.metadata or {}).items())
        return [found][body.offset : body.offset + body.limit] if wanted else []

    @router.get("/assistants/{assistant_id}")
    async def get_assistant(assistant_id: str, _user: User) -> dict[str, Any]:
        assistant(assistant_id)
        return assistant_json(graph_id, started)

    @router.get("/assistants/{assistant_id}/graph")
    async def assistant_graph(assistant_id: str, request: Request, _user: User) -> Any:
        assistant(assistant_id)
        return to_jsonable(rt(request).graph.get_graph().to_json())

    @router.get("/assistants/{assistant_id}/schemas")
    async def assistant_schemas(assistant_id: str, request: Request, _user: User) -> dict[str, Any]:
        assistant(assistant_id)
        graph = rt(request).graph

        def schema(read: Any) -> Any:
            try:
                return to_jsonable(read())
            except Exception:  # a graph whose schema does not convert: LangGraph answers null too
                return None

        return {
            "graph_id": graph_id,
            "input_schema": schema(graph.get_input_jsonschema),
            "output_schema": schema(graph.get_output_jsonschema),
            # a StateGraph's output is its whole state unless it declares another output schema
            "state_schema": schema(graph.get_output_jsonschema),
            "config_schema": schema(graph.get_config_jsonschema),
            "context_schema": schema(graph.get_context_jsonschema),
        }

    # -- threads -----------------------------------------------------------------------

    async def thread_out(runtime: ServiceRuntime, row: ThreadRow) -> dict[str, Any]:
        state = await runtime.graph.aget_state(runtime.config(row.id))
        return thread_json(row, state)

    @router.post("/threads")
    async def create_thread(body: ThreadCreate, request: Request, user: User) -> dict[str, Any]:
        thread_id = body.thread_id or str(uuid.uuid4())
        await require(request, user, thread_id, "run")
        if body.unsupported("supersteps", "ttl"):
            raise not_implemented(f"threads.create with {body.unsupported('supersteps', 'ttl')}")
        runtime = rt(request)
        metadata = {**(body.metadata or {}), **({"graph_id": body.graph_id} if body.graph_id else {})}
        existed = await runtime.store.thread_exists(thread_id)
        await runtime.store.ensure_thread(thread_id, actor=user.user, metadata=metadata or None)
        if existed and body.if_exists == "raise":
            raise HTTPException(409, f"thread {thread_id!r} already exists (pass if_exists='do_nothing')")
        return await thread_out(runtime, await runtime.store.get_thread(thread_id))

    @router.post("/threads/search")
    async def search_threads(body: ThreadSearch, request: Request, user: User) -> list[dict[str, Any]]:
        if body.unsupported("values", "select", "extract"):
            raise not_implemented(f"threads.search by {body.unsupported('values', 'select', 'extract')}")
        if body.sort_by not in (None, "created_at") or body.sort_order == "asc":
            raise not_implemented("threads.search sorted other than newest first")
        runtime = rt(request)
        # `limit` and `offset` count the threads this caller may read: the store pages over
        # all threads, so read on until the page is full (a filtered page is never short).
        visible: list[Any] = []
        skip, raw_offset, batch = body.offset, 0, max(body.limit, SEARCH_BATCH)
        while len(visible) < body.limit:
            rows = await runtime.store.search_threads(
                ThreadQuery(
                    ids=body.ids, status=body.status, metadata=body.metadata, limit=batch, offset=raw_offset
                )
            )
            for row in rows:
                if len(visible) == body.limit:
                    break
                if await thread_access(runtime.store, user, row.id, "read", rules(request)) is not None:
                    continue
                if skip:
                    skip -= 1
                else:
                    visible.append(row)
            if len(rows) < batch:
                break
            raw_offset += batch
        return [await thread_out(runtime, row) for row in visible]

    @router.get("/threads/{thread_id}")
    async def get_thread(thread_id: ThreadId, request: Request, user: User) -> dict[str, Any]:
        await require(request, user, thread_id, "read")
        runtime = rt(request)
        return await thread_out(runtime, await known_thread(runtime, thread_id))

    @router.get("/threads/{thread_id}/state")
    async def thread_state(thread_id: ThreadId, request: Request, user: User) -> Any:
        """LangGraph's ThreadState; `values`, `next` and `interrupts` are also ours."""
        await require(request, user, thread_id, "read")
        runtime = rt(request)
        if not await runtime.store.thread_exists(thread_id):
            raise HTTPException(404, f"thread {thread_id!r} does not exist")
        return state_json(await runtime.graph.aget_state(runtime.config(thread_id)))

    @router.post("/threads/{thread_id}/state")
    async def update_thread_state(
        thread_id: ThreadId, body: StateUpdate, request: Request, user: User
    ) -> Any:
        """Ours (`{values, as_node}`) and LangGraph's update_state. `values: null` with
        `as_node: "__end__"` on a thread waiting for approval is Agent Inbox's ignore: each
        pending request is rejected by the caller, through the decision checks."""
        runtime = rt(request)
        if body.values is None and body.as_node == "__end__":
            items = await pending(runtime, thread_id)
            if items:
                await require(request, user, thread_id, "decide")
                await decide_all(request, user, ignore_answers(items), {})
                state = await runtime.graph.aget_state(runtime.config(thread_id))
                return {"ok": True, "checkpoint": checkpoint_json(state.config)}
        await require(request, user, thread_id, "edit_state")
        if not await runtime.store.thread_exists(thread_id):
            raise HTTPException(404, f"thread {thread_id!r} does not exist")
        if body.unsupported("checkpoint_id", "checkpoint"):
            raise not_implemented("update_state at an earlier checkpoint")
        if isinstance(body.values, list):
            raise not_implemented("update_state with a list of updates")
        values = dict(body.values or {})
        if isinstance(values.get("messages"), list):
            values["messages"] = parse_messages(values["messages"])
            mark_edited(values["messages"], user.user)
        if body.as_node is not None and body.as_node not in runtime.graph.nodes:
            raise HTTPException(
                404,
                f"this graph has no node {printable(body.as_node)[:100]!r}: "
                f"use one of {sorted(runtime.graph.nodes)}",
            )
        before = jsonable_state((await runtime.graph.aget_state(runtime.config(thread_id))).values)
        try:
            config = await runtime.graph.aupdate_state(
                runtime.config(thread_id), values if body.values is not None else None, as_node=body.as_node
            )
        except Exception as exc:
            raise HTTPException(422, f"state update refused: {printable(str(exc))[:500]}") from exc
        after = jsonable_state((await runtime.graph.aget_state(runtime.config(thread_id))).values)
        await runtime.store.audit(
            actor=user.user,
            action="thread.state_updated",
            subject_type="thread",
            subject_id=thread_id,
            thread_id=thread_id,
            data={"keys": sorted(values), "as_node": body.as_node, "changes": state_diff(before, after)},
        )
        return {"ok": True, "checkpoint": checkpoint_json(config)}

    @router.post("/threads/{thread_id}/history")
    async def thread_history(thread_id: ThreadId, body: HistoryQuery, request: Request, user: User) -> Any:
        await require(request, user, thread_id, "read")
        if body.unsupported("checkpoint", "select"):
            raise not_implemented(f"history by {body.unsupported('checkpoint', 'select')}")
        runtime = rt(request)
        await known_thread(runtime, thread_id)
        before = None
        if isinstance(body.before, str):
            before = {"configurable": {"checkpoint_id": body.before}}
        elif isinstance(body.before, Mapping):
            checkpoint_id = body.before.get("checkpoint_id")
            before = {"configurable": {"checkpoint_id": str(checkpoint_id)}} if checkpoint_id else None
        states = []
        async for state in runtime.graph.aget_state_history(
            runtime.config(thread_id),
            limit=body.limit,
            before=before,  # type: ignore[arg-type]
            filter=body.metadata,
        ):
            states.append(state_json(state))
        return states

    # -- runs --------------------------------------------------------------------------

    async def start_run(
        request: Request, user: Principal, thread_id: str, body: RunBody, stream: Sequence[str]
    ) -> Run:
        """Queue the run the body asks for; a resume becomes the caller's decision."""
        runtime = rt(request)
        resume = body.command is not None and "resume" in body.command.model_fields_set
        # No input: continue a thread paused at a breakpoint (a decision), or just run on.
        proceed = body.input is None and body.command is None
        if not resume and not proceed:
            await require(request, user, thread_id, "run")
        name = assistant(body.assistant_id)
        missing = body.unsupported("webhook", "checkpoint", "checkpoint_id", "after_seconds")
        if missing:
            raise not_implemented(f"runs with {missing}")
        if body.multitask_strategy in ("interrupt", "rollback"):
            raise not_implemented(f"multitask_strategy {body.multitask_strategy!r}")
        unknown = [m for m in stream if m not in STREAM_MODES]
        if unknown:
            raise not_implemented(f"stream_mode {unknown} (served: {sorted(STREAM_MODES)})")
        configurable = (body.config or {}).get("configurable") or {}
        if not isinstance(configurable, Mapping) or any(
            k not in RESERVED_CONFIGURABLE or v != thread_id for k, v in configurable.items()
        ):
            raise not_implemented("config.configurable per run")
        if not await runtime.store.thread_exists(thread_id):
            if body.if_not_exists != "create":
                raise HTTPException(
                    404,
                    f"thread {thread_id!r} does not exist: create it (threads.create) or pass "
                    "if_not_exists='create'",
                )
            await require(request, user, thread_id, "run")
            await runtime.store.ensure_thread(
                thread_id, actor=user.user, metadata={"graph_id": name, "assistant_id": default_assistant}
            )
        options: dict[str, Any] = {
            "assistant_id": default_assistant,
            "metadata": body.metadata,
            "multitask_strategy": body.multitask_strategy or "reject",
            "stream_mode": list(stream),
            "interrupt_before": body.interrupt_before,
            "interrupt_after": body.interrupt_after,
            "context": body.context,
        }
        options = {k: v for k, v in options.items() if v not in (None, [])}
        waiting = await pending(runtime, thread_id)
        if resume:
            assert body.command is not None
            if body.command.update is not None or body.command.goto is not None:
                raise not_implemented("command.update / command.goto together with resume")
            if not waiting:
                raise HTTPException(409, f"thread {thread_id!r} waits for no answer: nothing to resume")
            await require(request, user, thread_id, "decide")
            try:
                answers = answers_for(body.command.resume, waiting)
            except ResumeError as exc:
                raise HTTPException(422, str(exc)) from exc
            return await decide_all(request, user, answers, options)
        if proceed and waiting and all(item.kind == "breakpoint" for item in waiting):
            return await decide_all(request, user, [(i, {"type": "continue"}) for i in waiting], options)
        await require(request, user, thread_id, "run")
        if proceed and not waiting:
            paused = (await runtime.graph.aget_state(runtime.config(thread_id))).next
            if paused:  # its breakpoint was cancelled (or decided): continuing would skip it
                raise HTTPException(
                    409,
                    f"thread {thread_id!r} is paused before {list(paused)} with nothing left to decide: "
                    "a run without input would skip that stop; send new input instead",
                )
        if waiting:
            what = ", ".join(sorted({i.tool or i.kind for i in waiting}))
            raise HTTPException(
                409,
                f"thread {thread_id!r} is waiting for an answer ({what}): resume it with "
                "command={'resume': …} (a decision: approve / edit / reject / respond)",
            )
        row = await runtime.store.get_thread(thread_id)
        if row.status == "busy" and (body.multitask_strategy or "reject") == "reject":
            raise HTTPException(
                409, f"thread {thread_id!r} is busy with a run: pass multitask_strategy='enqueue' to queue"
            )
        spec: dict[str, Any] = {**options, "input": body.input}
        if body.command is not None:
            await require(request, user, thread_id, "edit_state")
            spec["command"] = body.command.model_dump(include={"update", "goto"}, exclude_none=True)
            if isinstance(spec["command"].get("update"), Mapping):
                update = dict(spec["command"]["update"])
                if isinstance(update.get("messages"), list):
                    parse_messages(update["messages"])  # refuse what the reducer would choke on
        elif isinstance(body.input, Mapping) and isinstance(body.input.get("messages"), list):
            parse_messages(body.input["messages"])
        await request.app.state.admit_run(request, user)  # start role, rate limit, active-run cap
        return await runtime.submit_graph_run(thread_id, spec, actor=user.user)

    async def decide_all(
        request: Request,
        user: Principal,
        answers: list[tuple[ApprovalRequest, Any]],
        options: Mapping[str, Any],
    ) -> Run:
        """Every answer is checked before any is stored; then each is the caller's decision."""
        runtime = rt(request)
        security: Security = request.app.state.security
        for item, answer in answers:
            denied = can_decide(user, item, rules(request))
            if denied is not None:
                raise AuthError.forbidden(denied, user)
            runtime.check_decision(item, answer, user.user)
        for item, answer in answers:
            security.check_decision_rate(user)
            await runtime.decide(item.id, answer, principal=user, run_options=options)
        for interrupt_id in reversed(list(dict.fromkeys(i.interrupt_id for i, _ in answers))):
            if interrupt_id and (run := await runtime.store.run_by_resume_key(interrupt_id)) is not None:
                return run
        return (await runtime.store.thread_runs(answers[0][0].thread_id))[-1]

    def location(thread_id: ThreadId, run: Run) -> dict[str, str]:
        # a header is Latin-1: a thread id in any other script goes percent-encoded, as in a URL
        return {"Content-Location": f"/threads/{quote(thread_id, safe='')}/runs/{quote(run.id, safe='')}"}

    @router.post("/threads/{thread_id}/runs/stream", responses=SSE)
    async def stream_run(
        thread_id: ThreadId, body: RunBody, request: Request, user: User
    ) -> EventSourceResponse:
        runtime = rt(request)
        stack = AsyncExitStack()
        queue = await stack.enter_async_context(runtime.events.subscribe())  # before the run exists
        try:
            run = await start_run(request, user, thread_id, body, body.stream_modes)
        except BaseException:
            await stack.aclose()
            raise
        cancel = user.user if body.on_disconnect == "cancel" else None
        events = follow(runtime, run, queue, stack, body.stream_modes, cancel_as=cancel)
        return EventSourceResponse(events, headers=location(thread_id, run), ping=15)

    @router.post("/threads/{thread_id}/runs/wait", responses=JSON_OK)
    async def wait_run(thread_id: ThreadId, body: RunBody, request: Request, user: User) -> JSONResponse:
        runtime = rt(request)
        run = await start_run(request, user, thread_id, body, [])
        run = await runtime.wait_run(run.id, WAIT_SECONDS)
        state = await runtime.graph.aget_state(runtime.config(thread_id))
        return JSONResponse(wait_json(state, run), headers=location(thread_id, run))

    @router.post("/threads/{thread_id}/runs", status_code=202, responses=JSON_OK)
    async def create_run(thread_id: ThreadId, body: RunRequest, request: Request, user: User) -> JSONResponse:
        """Ours (`{"message"}` → 202, our run fields) or LangGraph's RunCreate (→ 200, its Run)."""
        if isinstance(body, RunCreate):
            run = await request.app.state.start_message_run(request, user, thread_id, body.message)
            return JSONResponse({**run_json(run, default_assistant), **our_run(run)}, status_code=202)
        run = await start_run(request, user, thread_id, body, [])
        return JSONResponse(
            {**our_run(run), **run_json(run, default_assistant)}, headers=location(thread_id, run)
        )

    @router.get("/threads/{thread_id}/runs")
    async def list_runs(
        thread_id: ThreadId,
        request: Request,
        user: User,
        limit: int = Query(10, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10**9),
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        await require(request, user, thread_id, "read")
        runtime = rt(request)
        await known_thread(runtime, thread_id)
        found = [run_json(r, default_assistant) for r in reversed(await runtime.store.thread_runs(thread_id))]
        if status is not None:
            found = [r for r in found if r["status"] == status]
        return found[offset : offset + limit]

    async def thread_run(runtime: ServiceRuntime, thread_id: str, run_id: str) -> Run:
        try:
            run = await runtime.store.get_run(run_id)
        except NotFoundError:
            run = None
        if run is None or run.thread_id != thread_id:
            raise HTTPException(404, f"run {run_id!r} does not exist on thread {thread_id!r}")
        return run

    @router.get("/threads/{thread_id}/runs/{run_id}")
    async def get_run(thread_id: ThreadId, run_id: str, request: Request, user: User) -> dict[str, Any]:
        await require(request, user, thread_id, "read")
        return run_json(await thread_run(rt(request), thread_id, run_id), default_assistant)

    @router.get("/threads/{thread_id}/runs/{run_id}/join")
    async def join_run(thread_id: ThreadId, run_id: str, request: Request, user: User) -> Any:
        await require(request, user, thread_id, "read")
        runtime = rt(request)
        run = await runtime.wait_run((await thread_run(runtime, thread_id, run_id)).id, WAIT_SECONDS)
        return wait_json(await runtime.graph.aget_state(runtime.config(thread_id)), run)

    @router.get("/threads/{thread_id}/runs/{run_id}/stream", responses=SSE)
    async def join_stream(
        thread_id: ThreadId,
        run_id: str,
        request: Request,
        user: User,
        stream_mode: Annotated[list[str] | None, Query()] = None,
        cancel_on_disconnect: bool = False,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> EventSourceResponse:
        """Follow a run from now on (events before the join, or before `Last-Event-ID`, are
        not replayed: the current values come first instead)."""
        await require(request, user, thread_id, "read")
        runtime = rt(request)
        stack = AsyncExitStack()
        queue = await stack.enter_async_context(runtime.events.subscribe())
        try:
            run = await thread_run(runtime, thread_id, run_id)
        except BaseException:
            await stack.aclose()
            raise
        spec = run.input if isinstance(run.input, Mapping) else {}
        modes = list(stream_mode or spec.get("stream_mode") or ["values"])
        cancel = user.user if cancel_on_disconnect else None
        events = follow(runtime, run, queue, stack, modes, cancel_as=cancel, joined=True)
        return EventSourceResponse(events, ping=15)

    @router.post("/threads/{thread_id}/runs/{run_id}/cancel", responses=JSON_OK)
    async def cancel_run(
        thread_id: ThreadId,
        run_id: str,
        request: Request,
        user: User,
        wait: bool = False,
        action: str = Query("interrupt", pattern="^(interrupt|rollback)$"),
    ) -> Any:
        await require(request, user, thread_id, "cancel")
        if action == "rollback":
            raise not_implemented("cancel with action='rollback'")
        runtime = rt(request)
        run = await runtime.cancel_run((await thread_run(runtime, thread_id, run_id)).id, actor=user.user)
        if wait:
            run = await runtime.wait_run(run.id, WAIT_SECONDS)
        return run_json(run, default_assistant)

    return router


def our_run(run: Run) -> dict[str, Any]:
    """Our own run fields (as `GET /runs/{id}` shows them)."""
    data = asdict(run)
    for key in ("created_at", "started_at", "finished_at", "lease_expires_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat()
    return data


def parse_messages(raw: list[Any]) -> list[Any]:
    """Messages as our dicts (`{"type", "data"}`) or LangGraph's (`{"role"|"type", "content"}`)."""
    if not all(isinstance(m, Mapping) for m in raw):
        raise HTTPException(
            422,
            "messages must be a list of message objects ({'type'|'role', 'content'} or our {'type', 'data'})",
        )
    try:
        if all("data" in m for m in raw):
            return messages_from_dict(raw)
        return convert_to_messages(raw)
    except Exception as exc:  # any malformed message is the caller's error, never a 500
        raise HTTPException(422, f"messages must be LangChain message dicts: {type(exc).__name__}") from exc


def sse(event: str, data: Any, seq: int) -> dict[str, str]:
    return {"event": event, "data": json.dumps(data, default=str), "id": str(seq)}


async def follow(
    runtime: ServiceRuntime,
    run: Run,
    queue: asyncio.Queue[dict[str, Any]],
    stack: AsyncExitStack,
    modes: Sequence[str],
    *,
    cancel_as: str | None,
    joined: bool = False,
) -> AsyncIterator[dict[str, str]]:
    """SSE of one run, as the SDK parses it: `metadata`, the chunks, (`error`), `end`.

    Chunks come as `run.stream` events from whichever worker runs it (over LISTEN/NOTIFY
    on PostgreSQL); the store is re-read every second, so a lost end event costs a second.
    """
    wanted = {STREAM_MODES[m] for m in modes if m in STREAM_MODES}
    seq = 0
    current = run
    try:
        seq += 1
        yield sse(
            "metadata", {"run_id": run.id, "thread_id": run.thread_id, "attempt": max(run.attempts, 1)}, seq
        )
        if joined and "values" in wanted:
            state = await runtime.graph.aget_state(runtime.config(run.thread_id))
            seq += 1
            yield sse("values", wait_json(state, current) if current.status != "failed" else {}, seq)
        while current.status in ACTIVE:
            try:
                async with asyncio.timeout(1.0):
                    event = await queue.get()
            except TimeoutError:
                current = await runtime.store.get_run(run.id)
                continue
            if event.get("run_id") != run.id:
                continue
            if event["type"] == "run.stream" and event.get("mode") in wanted:
                mode = str(event["mode"])
                if "content" in event:
                    data = event["content"]
                elif mode == "values":  # too large to broadcast: read it from the checkpoint
                    data = values_json((await runtime.graph.aget_state(runtime.config(run.thread_id))).values)
                else:
                    continue
                seq += 1
                yield sse(mode, data, seq)
            elif event["type"] in ("run.succeeded", "run.failed", "run.paused", "run.cancelled"):
                current = await runtime.store.get_run(run.id)
        if current.status == "failed":
            kind, _, message = (current.error or "Error: run failed").partition(": ")
            seq += 1
            yield sse("error", {"error": kind, "message": message}, seq)
        seq += 1
        yield {"event": "end", "data": "", "id": str(seq)}
    finally:
        if cancel_as is not None and current.status in ACTIVE:  # on_disconnect="cancel"
            with contextlib.suppress(Exception):
                await runtime.cancel_run(run.id, actor=cancel_as)
        await stack.aclose()
