"""Request bodies of LangGraph's server API, as `langgraph-sdk` sends them.

Fields the service does not implement are named, so a client that sets one gets a 501
that says which (`unsupported`), never a silent no-op; fields that change nothing here
(tracing, durability hints) are accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StrictInt, model_validator

from langgraph_ollama_local.server.schemas import MAX_MESSAGE, UnicodeBody


def _utf8(text: str) -> str:
    """Refuse lone surrogates (valid JSON escapes, but no database can store them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from exc
    return text


Text = Annotated[str, AfterValidator(_utf8)]
ID = Field(default=None, min_length=1, max_length=200)
NodeList = list[Text] | Literal["*"] | None


class _Body(UnicodeBody):
    """Every LangGraph body: unknown fields refused, and text that is not Unicode (a lone
    surrogate) a 422 like on our own routes, before it can reach the store or the audit log."""

    model_config = ConfigDict(extra="forbid")

    def unsupported(self, *names: str) -> list[str]:
        """Which of `names` the client set (not None, not empty)."""
        return [n for n in names if getattr(self, n) not in (None, [], {})]


class ThreadCreate(_Body):
    thread_id: Text | None = ID
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    graph_id: Text | None = Field(default=None, max_length=200)
    supersteps: list[Any] | None = None
    ttl: Any = None


class ThreadSearch(_Body):
    ids: list[Annotated[Text, Field(max_length=200)]] | None = Field(default=None, max_length=1000)
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0, le=10**9)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    extract: dict[str, Any] | None = None


class AssistantSearch(_Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0, le=10**9)
    sort_by: str | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


class HistoryQuery(_Body):
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    before: dict[str, Any] | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    select: list[str] | None = None


class StateUpdate(_Body):
    """Ours (`values` as an object, `as_node`) and LangGraph's (`values` may be null or a list)."""

    values: dict[str, Any] | list[Any] | None
    as_node: Text | None = Field(default=None, max_length=200)
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None


class RunCommand(_Body):
    resume: Any = None
    update: dict[str, Any] | list[Any] | None = None
    goto: Any = None


class RunBody(_Body):
    """`POST /threads/{id}/runs` (+ `/stream`, `/wait`): LangGraph's RunCreate, or our `message`."""

    message: Text | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE)
    assistant_id: Text | None = Field(default=None, min_length=1, max_length=200)
    input: dict[str, Any] | list[Any] | None = None
    command: RunCommand | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: Text | list[Text] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    interrupt_before: NodeList = None
    interrupt_after: NodeList = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    feedback_keys: list[str] | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None
    strict_resume: bool | None = None
    langsmith_tracer: dict[str, Any] | None = None
    # not implemented: a client that sets one gets a 501 naming it
    webhook: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    after_seconds: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RunBody:
        if self.message is not None and (self.assistant_id or self.input or self.command):
            raise ValueError("send either our `message` or LangGraph's `assistant_id` with `input`/`command`")
        if self.message is None and self.assistant_id is None:
            raise ValueError(
                "a run needs `assistant_id` (LangGraph's clients: the graph name or its id) "
                "or `message` (ours)"
            )
        return self

    @property
    def stream_modes(self) -> list[str]:
        if self.stream_mode is None:
            return ["values"]
        return [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)
