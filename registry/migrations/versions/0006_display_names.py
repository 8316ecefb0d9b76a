"""Display names: what an account is called publicly (shown by verification).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 06:58:25.331696
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("account", "account_request"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("display_name", sa.String(length=200), nullable=False, server_default="")
            )


def downgrade() -> None:
    for table in ("account_request", "account"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("display_name")
