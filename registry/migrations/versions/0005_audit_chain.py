"""Audit chain (prev_hash, hash, sealed_at; the head row appends lock) and account reviews.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 06:46:48.012149
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_through", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sealed_at", UTC, nullable=True))
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_reviewed_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("last_reviewed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_account_last_reviewed_by_id_person"), "person", ["last_reviewed_by_id"], ["id"]
        )
    # Events written before this revision are chained by the first append that has the key.
    op.execute(
        "INSERT INTO audit_head (id, last_seq, last_hash, sealed_through) "
        "SELECT 1, COALESCE(MAX(seq), 0), '', 0 FROM audit_event"
    )


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_account_last_reviewed_by_id_person"), type_="foreignkey")
        batch_op.drop_column("last_reviewed_by_id")
        batch_op.drop_column("last_reviewed_at")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("sealed_at")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    op.drop_table("audit_head")
