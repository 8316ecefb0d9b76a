"""Credentials: sealed secrets per account, kind and version.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 06:29:27.479302
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("set_at", UTC, nullable=False),
        sa.Column("shredded_at", UTC, nullable=True),
        sa.CheckConstraint(
            "kind IN ('password', 'totp_seed', 'recovery_codes')", name=op.f("ck_credential_kind")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_credential_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["person.id"], name=op.f("fk_credential_set_by_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential")),
        sa.UniqueConstraint("account_id", "kind", "version", name="uq_credential_version"),
    )
    op.create_index(op.f("ix_credential_account_id"), "credential", ["account_id"])
    op.create_index(op.f("ix_credential_key_id"), "credential", ["key_id"])


def downgrade() -> None:
    op.drop_table("credential")
