"""Indexes for what the console's home page lists: the reviews due soonest among the active
accounts, and the credentials due for rotation (the few marked for it, the oldest by the date
they were set). Each is read as a range of an index with a LIMIT, never every row.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARKED = sa.text("rotation_due_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_account_status_next_review", "account", ["status", "next_review_on"])
    op.create_index(
        "ix_credential_rotation_due",
        "credential",
        ["rotation_due_at"],
        sqlite_where=MARKED,
        postgresql_where=MARKED,
    )
    op.create_index("ix_credential_set_at", "credential", ["set_at"])


def downgrade() -> None:
    op.drop_index("ix_credential_set_at", table_name="credential")
    op.drop_index("ix_credential_rotation_due", table_name="credential")
    op.drop_index("ix_account_status_next_review", table_name="account")
