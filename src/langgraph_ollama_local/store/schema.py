"""Tables of the approval store (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Graph state lives in LangGraph's checkpointer; these tables hold what the checkpointer
does not: the approval lifecycle (indexed for the inbox), runs, the audit chain and the
notification outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

metadata = MetaData()
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only

threads = Table(
    "hitl_threads",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200)),
    Column("title", String(500)),
    # Whoever started the thread's first run: reads and writes it (auth/threads.py).
    Column("owner", String(200)),
    Index("ix_hitl_threads_owner", "owner", "created_at"),
    # LangGraph's thread metadata (`threads.create(metadata=…)`, searched by `threads.search`).
    Column("meta", JSON),
    Index("ix_hitl_threads_created", "created_at"),
)

runs = Table(
    "hitl_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("thread_id", String(200), nullable=False, index=True),
    Column("status", String(20), nullable=False),  # queued running paused succeeded failed cancelled
    Column("input", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("created_by", String(200)),
    # The worker holding the run and until when; a run whose lease ran out is taken over.
    Column("lease_owner", String(100)),
    Column("lease_expires_at", DateTime(timezone=True)),
    # One resume run per interrupt, however many processes see the last decision land.
    Column("resume_key", String(200)),
    # After a storage or connection error the run goes back to the queue, not before this
    # time (database clock); `retries` counts those round trips (backoff, `hitl doctor`).
    Column("not_before", DateTime(timezone=True)),
    Column("retries", Integer, nullable=False, default=0, server_default=text("0")),
    UniqueConstraint("resume_key", name="uq_hitl_runs_resume_key"),
    Index("ix_hitl_runs_status_created", "status", "created_at"),
    Index("ix_hitl_runs_thread_status", "thread_id", "status", "created_at"),
)

approval_requests = Table(
    "hitl_approval_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("thread_id", String(200), nullable=False),
    Column("run_id", String(64)),
    Column("interrupt_id", String(64)),
    Column("action_index", Integer, nullable=False, default=0),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("tool", String(200)),
    Column("tool_call_id", String(200)),
    Column("args", JSON),
    Column("digest", String(64)),
    Column("stage", String(100)),
    Column("stage_index", Integer, nullable=False, default=0),
    Column("stage_count", Integer, nullable=False, default=1),
    Column("required_role", String(100)),
    Column("allowed_decisions", JSON),
    Column("description", Text),
    Column("summary", Text),  # one line a person reads (approvals/summary.py), searched by `q=`
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True)),
    Column("on_timeout", String(20)),
    Column("escalate_to", String(100)),
    Column("requested_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(200)),
    Column("decision", JSON),
    Column("edited_args", JSON),
    Column("reason", Text),
    Column("payload", JSON),
    Column("response_schema", JSON),
    UniqueConstraint("interrupt_id", "action_index", name="uq_hitl_request_interrupt_action"),
    Index("ix_hitl_requests_inbox", "status", "deadline", "created_at"),
    Index(
        "ix_hitl_requests_inbox_order",
        "status",
        text("(deadline IS NULL)"),
        "deadline",
        "created_at",
    ),
    Index("ix_hitl_requests_thread", "thread_id", "status"),
    Index("ix_hitl_requests_tool", "tool", "status"),
    Index("ix_hitl_requests_role", "required_role", "status"),
    Index("ix_hitl_requests_requested_by", "requested_by", "thread_id"),
    Index("ix_hitl_requests_decided_by", "decided_by", "thread_id"),
)

audit_log = Table(
    "hitl_audit_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(50), nullable=False),
    Column("subject_type", String(30), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("thread_id", String(200)),
    Column("data", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_hitl_audit_thread", "thread_id", "seq"),
)

# One row: the chain head. Appends lock it, so concurrent writers extend the chain in turn.
audit_head = Table(
    "hitl_audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_seq", BigId, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

notifications = Table(
    "hitl_notifications",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("channel", String(20), nullable=False),  # webhook | email
    Column("target", String(500), nullable=False),
    Column("event", String(50), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),  # pending sent failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_hitl_notifications_due", "status", "next_attempt_at"),
)

# API tokens: only the SHA-256 of each token is kept; the id is the token's public part.
api_tokens = Table(
    "hitl_api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("note", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(200)),
    Column("last_used_at", DateTime(timezone=True)),
    Index("ix_hitl_api_tokens_user", "user"),
)

# Web sessions, server side: the cookie carries a random id whose SHA-256 is the key here, so
# logging out (or going idle) ends the session for every copy of the cookie.
web_sessions = Table(
    "hitl_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", String(32), nullable=False),
    Column("user", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("ended_by", String(200)),
    Index("ix_hitl_sessions_token", "token_id"),
)

# One-time login codes for links (`/login#code=…`): short-lived, used once, stored hashed.
login_codes = Table(
    "hitl_login_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("token_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

# The execution ledger: one row per approved tool call that was started, keyed by thread,
# message and call id. A row left "started" by a crash means the effect is in doubt.
tool_executions = Table(
    "hitl_tool_executions",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("thread_id", String(200), nullable=False),
    Column("tool_call_id", String(200), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("digest", String(64)),
    Column("status", String(20), nullable=False),  # started succeeded failed in_doubt
    Column("attempts", Integer, nullable=False, default=1),
    Column("content", Text),
    Column("outcome", String(20)),  # the ToolMessage status: success | error
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_hitl_tool_exec_status", "status", "started_at"),
    Index("ix_hitl_tool_exec_thread", "thread_id"),
)


def insert_unless_exists(
    dialect: str, table: Table, conflict: Sequence[str], values: dict[str, Any]
) -> Insert:
    """`INSERT … ON CONFLICT (conflict) DO NOTHING` on PostgreSQL or SQLite: a row whose
    unique key exists already is skipped in the same statement (a `RETURNING` gives no
    row for it), without an error that would end the caller's transaction."""
    if dialect == "postgresql":
        return pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    return sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
