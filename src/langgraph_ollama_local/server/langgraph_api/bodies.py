"""Request bodies of LangGraph's server API, as `langgraph-sdk` sends them.

Fields the service does not implement are named, so a client that sets one gets a 501
that says which (`unsupported`), never a silent no-op; fields that change nothing here
(tracing, durability hints) are accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from langgraph_ollama_local.server.schemas import RunCreate, UnicodeBody


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


def _integral(value: Any) -> Any:
    """JSON Schema's `integer` includes 336.0; strings and booleans stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Count = Annotated[StrictInt, BeforeValidator(_integral)]

# A metadata filter goes into SQL: a JSON path per key, a scalar value bound as a parameter,
# a list or object compared as JSON text. So keys are path-safe names, a number at the top
# fits SQLite's 64-bit integers, and anything nested is any JSON (finite, at most 16 deep).
# The published schema is the same rule (not recursive: fuzzers follow a flat one exactly).
METADATA_KEY = r"^[\w.:-]{1,200}$"
MAX_DEPTH = 16
# ±2**63, the top bound the largest double under 2**63: the document carries bounds as
# JSON numbers (doubles), so the published bound is exactly the checked one.
LOWEST, HIGHEST = -(2**63), 2**63 - 1024
Int64 = Annotated[StrictInt, Field(ge=LOWEST, le=HIGHEST)]


def _not_integer(value: Any) -> Any:
    """Integers take the integer branch alone (as a float, one past the bounds rounds in)."""
    if isinstance(value, int):
        raise ValueError("an integer must lie within the integer bounds")
    return value


Float64 = Annotated[
    StrictFloat, Field(ge=LOWEST, le=HIGHEST, allow_inf_nan=False), BeforeValidator(_not_integer)
]
MetadataValue = StrictBool | Int64 | Float64 | str | list[Any] | dict[str, Any] | None


def _plain_json(value: Any, depth: int = 0) -> bool:
    """Nested values: JSON the databases compare (finite numbers, at most MAX_DEPTH deep)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | dict):
        items = value.values() if isinstance(value, dict) else value
        return depth < MAX_DEPTH and all(_plain_json(item, depth + 1) for item in items)
    return True


class _OnlyNamedKeys:
    """`patternProperties` alone would still allow any other key: say it does not."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["additionalProperties"] = False
        schema["description"] = (
            "Metadata to match: keys are letters, digits and _.:-; a number value fits 64 bits; "
            f"a list or object value is any JSON, nested at most {MAX_DEPTH} deep"
        )
        return schema


def _filter_problem(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        checked = handler(value)
    except ValidationError:
        checked = None
    if checked is None or not _plain_json(checked):
        raise ValueError(
            "a metadata filter's keys are letters, digits and _.:- (1-200), a number value fits "
            f"64 bits, and a list or object value is JSON at most {MAX_DEPTH} deep"
        )
    return checked


MetadataFilter = Annotated[
    dict[Annotated[str, StringConstraints(pattern=METADATA_KEY)], MetadataValue],
    _OnlyNamedKeys,
    WrapValidator(_filter_problem),
]


class _Body(UnicodeBody):
    """Every LangGraph body: unknown fields refused, and text that is not Unicode (a lone
    surrogate) a 422 like on our own routes, before it can reach the store or the audit log.
    Strict: a JSON type other than the published one (`0` for a boolean, `"1"` for a number)
    is a 422, not quietly converted."""

    model_config = ConfigDict(extra="forbid", strict=True)

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
    metadata: MetadataFilter | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: Count = Field(default=10, ge=1, le=1000)
    offset: Count = Field(default=0, ge=0, le=10**9)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    extract: dict[str, Any] | None = None


class AssistantSearch(_Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: Count = Field(default=10, ge=1, le=1000)
    offset: Count = Field(default=0, ge=0, le=10**9)
    sort_by: str | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


class HistoryQuery(_Body):
    limit: Count = Field(default=10, ge=1, le=1000)
    before: dict[str, Any] | str | None = None
    metadata: MetadataFilter | None = None
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
    """LangGraph's RunCreate: `POST /threads/{id}/runs/stream`, `/wait`, and `/runs` beside ours."""

    assistant_id: Text = Field(min_length=1, max_length=200)
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

    @model_validator(mode="before")
    @classmethod
    def _explain(cls, data: Any) -> Any:
        """Say which body this is, rather than only "field required" / "extra forbidden"."""
        if isinstance(data, Mapping) and "message" in data:
            raise ValueError(
                "`message` is our own body, for POST /threads/{thread_id}/runs alone and without "
                "LangGraph's fields; LangGraph's RunCreate is `assistant_id` with `input` | `command`"
            )
        if isinstance(data, Mapping) and data.get("assistant_id") is None:
            raise ValueError(
                "a run needs `assistant_id` (LangGraph's clients: the graph name or its id) "
                "or, on POST /threads/{thread_id}/runs, our `message` alone"
            )
        return data

    @property
    def stream_modes(self) -> list[str]:
        if self.stream_mode is None:
            return ["values"]
        return [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)


def _run_kind(data: Any) -> str:
    if isinstance(data, RunCreate) or (isinstance(data, Mapping) and "message" in data):
        return "ours"
    return "langgraph"


# `POST /threads/{id}/runs`: ours (`{"message"}` alone) or LangGraph's RunCreate, one of the
# two as the published schema says (oneOf), so every body the schema allows is taken.
RunRequest = Annotated[
    Annotated[RunCreate, Tag("ours")] | Annotated[RunBody, Tag("langgraph")],
    Discriminator(_run_kind),
]
