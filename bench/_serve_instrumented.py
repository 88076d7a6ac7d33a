"""`hitl` with every SQL statement counted (SQLAlchemy engine event, nothing in src/ changed);
the counts by statement kind are written to $HITL_BENCH_SQL_COUNTS at exit, and by call site
(the statement kind plus the innermost functions of ours that issued it) under "sites".
For profiling."""

import atexit
import json
import os
import sys
import time
from collections import Counter

from sqlalchemy import event
from sqlalchemy.engine import Engine

from langgraph_ollama_local.cli.app import main

COUNTS: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()
SITES: Counter[str] = Counter()
OURS = "langgraph_ollama_local"


def _site() -> str:
    """The innermost three functions of ours on the issuing coroutine's stack. SQLAlchemy's
    async engines run the statement in a child greenlet: the caller's frames hang below its
    parent's switch."""
    try:
        import greenlet

        frame = greenlet.getcurrent().parent.gr_frame  # type: ignore[union-attr]
    except Exception:
        frame = None
    frame = frame or sys._getframe(2)
    names: list[str] = []
    while frame is not None and len(names) < 3:
        code = frame.f_code
        if OURS in code.co_filename:
            names.append(code.co_name)
        frame = frame.f_back
    return " < ".join(names) or "?"


@event.listens_for(Engine, "before_cursor_execute")
def _count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    words = statement.split()
    head = " ".join(words[:3]) if words else ""
    for table in (
        "hitl_approval_requests",
        "hitl_audit_log",
        "hitl_audit_head",
        "hitl_runs",
        "hitl_threads",
        "hitl_api_tokens",
        "hitl_notifications",
    ):
        if table in statement:
            head = f"{words[0]} {table}"
            break
    COUNTS[head] += 1
    SITES[f"{head}  @ {_site()}"] += 1
    conn.info.setdefault("bench_started", []).append((head, time.perf_counter()))


@event.listens_for(Engine, "after_cursor_execute")
def _timed(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    head, started = conn.info["bench_started"].pop()
    SECONDS[head] += time.perf_counter() - started


@event.listens_for(Engine, "commit")
def _commit(conn):  # type: ignore[no-untyped-def]
    COUNTS["COMMIT"] += 1
    SITES[f"COMMIT  @ {_site()}"] += 1


@atexit.register
def _dump() -> None:
    path = os.environ.get("HITL_BENCH_SQL_COUNTS")
    if path:
        with open(path, "w") as f:
            json.dump(
                {
                    "counts": dict(COUNTS.most_common()),
                    "seconds": dict(SECONDS),
                    "sites": dict(SITES.most_common()),
                },
                f,
                indent=1,
            )


sys.argv[0] = "hitl"
main()
