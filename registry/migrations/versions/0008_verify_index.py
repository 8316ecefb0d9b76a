"""An index on every account's handle, for public verification (decommissioned ones too).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 07:17:12.709187
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_account_platform_handle", "account", ["platform", "handle_normalized"])


def downgrade() -> None:
    op.drop_index("ix_account_platform_handle", table_name="account")
