"""The public face: an account's permanent platform id, its language and twin, the same two
on requests, and the renames that keep an old handle from being vouched for again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)
LIVE_PLATFORM_ID = sa.text("status <> 'decommissioned' AND platform_id IS NOT NULL")

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("platform_id", sa.String(length=300), nullable=True))
        batch.add_column(
            sa.Column("language", sa.String(length=16), nullable=False, server_default="en")
        )
        batch.add_column(sa.Column("twin_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_account_twin_id_account"), "account", ["twin_id"], ["id"])
        batch.create_check_constraint(
            op.f("ck_account_language"), "language IN ('en', 'fr', 'bilingual', 'other')"
        )
    with op.batch_alter_table("account") as batch:
        batch.alter_column("language", server_default=None)
    op.create_index(
        "uq_account_platform_id_live",
        "account",
        ["platform", "platform_id"],
        unique=True,
        sqlite_where=LIVE_PLATFORM_ID,
        postgresql_where=LIVE_PLATFORM_ID,
    )
    op.create_index("ix_account_platform_platform_id", "account", ["platform", "platform_id"])
    with op.batch_alter_table("account_request") as batch:
        batch.add_column(sa.Column("platform_id", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    op.create_table(
        "account_rename",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("old_handle", sa.String(length=200), nullable=False),
        sa.Column("old_handle_normalized", sa.String(length=200), nullable=False),
        sa.Column("old_url", sa.String(length=500), nullable=False),
        sa.Column("new_handle", sa.String(length=200), nullable=False),
        sa.Column("new_url", sa.String(length=500), nullable=False),
        sa.Column("renamed_at", UTC, nullable=False),
        sa.Column("renamed_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_account_rename_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["renamed_by_id"], ["person.id"], name=op.f("fk_account_rename_renamed_by_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_rename")),
    )
    op.create_index(op.f("ix_account_rename_account_id"), "account_rename", ["account_id"])
    op.create_index(
        "ix_account_rename_old_handle", "account_rename", ["platform", "old_handle_normalized"]
    )


def downgrade() -> None:
    op.drop_table("account_rename")
    with op.batch_alter_table("account_request") as batch:
        batch.drop_column("language")
        batch.drop_column("platform_id")
    op.drop_index("ix_account_platform_platform_id", table_name="account")
    op.drop_index("uq_account_platform_id_live", table_name="account")
    with op.batch_alter_table("account") as batch:
        batch.drop_constraint(op.f("ck_account_language"), type_="check")
        batch.drop_constraint(op.f("fk_account_twin_id_account"), type_="foreignkey")
        batch.drop_column("twin_id")
        batch.drop_column("language")
        batch.drop_column("platform_id")
