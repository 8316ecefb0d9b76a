"""Handovers, and rotation-due marks on credentials.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 06:35:43.075574
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_by_id", sa.Integer(), nullable=False),
        sa.Column("leaver_id", sa.Integer(), nullable=False),
        sa.Column("successor_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["leaver_id"], ["person.id"], name=op.f("fk_handover_leaver_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["run_by_id"], ["person.id"], name=op.f("fk_handover_run_by_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["successor_id"], ["person.id"], name=op.f("fk_handover_successor_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover")),
    )
    op.create_index(op.f("ix_handover_leaver_id"), "handover", ["leaver_id"])
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rotation_due_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("rotation_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_column("rotation_reason")
        batch_op.drop_column("rotation_due_at")
    op.drop_table("handover")
