"""approval request summary: one line a person reads, searched by `GET /approvals?q=`

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 14:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hitl_approval_requests") as batch:
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hitl_approval_requests") as batch:
        batch.drop_column("summary")
