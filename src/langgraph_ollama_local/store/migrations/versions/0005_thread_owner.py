"""thread owner (object-level authorization), indexes for "threads this person may read"

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hitl_threads") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
    # Until now the thread row was made by its first message, as its author: that is the owner.
    op.execute("UPDATE hitl_threads SET owner = created_by WHERE owner IS NULL")
    op.create_index("ix_hitl_threads_owner", "hitl_threads", ["owner", "created_at"])
    op.create_index("ix_hitl_requests_requested_by", "hitl_approval_requests", ["requested_by", "thread_id"])
    op.create_index("ix_hitl_requests_decided_by", "hitl_approval_requests", ["decided_by", "thread_id"])


def downgrade() -> None:
    op.drop_index("ix_hitl_requests_decided_by", table_name="hitl_approval_requests")
    op.drop_index("ix_hitl_requests_requested_by", table_name="hitl_approval_requests")
    op.drop_index("ix_hitl_threads_owner", table_name="hitl_threads")
    with op.batch_alter_table("hitl_threads") as batch:
        batch.drop_column("owner")
