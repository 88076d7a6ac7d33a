"""thread metadata (LangGraph's server API: threads.create(metadata=…), threads.search(metadata=…))

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hitl_threads") as batch:
        batch.add_column(sa.Column("meta", sa.JSON(), nullable=True))
    op.create_index("ix_hitl_threads_created", "hitl_threads", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_hitl_threads_created", table_name="hitl_threads")
    with op.batch_alter_table("hitl_threads") as batch:
        batch.drop_column("meta")
