"""run leases, resume keys, tool execution ledger, inbox order index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hitl_runs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resume_key", sa.String(length=200), nullable=True))
        batch.create_unique_constraint("uq_hitl_runs_resume_key", ["resume_key"])
    op.create_index("ix_hitl_runs_thread_status", "hitl_runs", ["thread_id", "status", "created_at"])
    op.create_table(
        "hitl_tool_executions",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("thread_id", sa.String(length=200), nullable=False),
        sa.Column("tool_call_id", sa.String(length=200), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_hitl_tool_exec_status", "hitl_tool_executions", ["status", "started_at"])
    op.create_index("ix_hitl_tool_exec_thread", "hitl_tool_executions", ["thread_id"])
    # The inbox orders by (deadline IS NULL, deadline, created_at): an index on exactly that
    # lets the first page be read in order instead of sorting every pending row.
    op.create_index(
        "ix_hitl_requests_inbox_order",
        "hitl_approval_requests",
        ["status", sa.text("(deadline IS NULL)"), "deadline", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_hitl_requests_inbox_order", table_name="hitl_approval_requests")
    op.drop_index("ix_hitl_tool_exec_thread", table_name="hitl_tool_executions")
    op.drop_index("ix_hitl_tool_exec_status", table_name="hitl_tool_executions")
    op.drop_table("hitl_tool_executions")
    op.drop_index("ix_hitl_runs_thread_status", table_name="hitl_runs")
    with op.batch_alter_table("hitl_runs") as batch:
        batch.drop_constraint("uq_hitl_runs_resume_key", type_="unique")
        batch.drop_column("resume_key")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
