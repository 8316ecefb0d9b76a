"""Account requests (new account, decommission) and their proposed holders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:21:45.797992
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("handle", sa.String(length=200), nullable=True),
        sa.Column("handle_normalized", sa.String(length=200), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("program_area", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=2000), nullable=True),
        sa.Column("login_email", sa.String(length=254), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("department_decided_by_id", sa.Integer(), nullable=True),
        sa.Column("department_decided_at", UTC, nullable=True),
        sa.Column("department_comment", sa.String(length=2000), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("decision_comment", sa.String(length=2000), nullable=True),
        sa.CheckConstraint(
            "kind IN ('new_account', 'decommission')", name=op.f("ck_account_request_kind")
        ),
        sa.CheckConstraint(
            "state IN ('submitted', 'department_approved', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_account_request_state"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_account_request_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["person.id"], name=op.f("fk_account_request_decided_by_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["department_decided_by_id"],
            ["person.id"],
            name=op.f("fk_account_request_department_decided_by_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_account_request_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["person.id"], name=op.f("fk_account_request_requester_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_request")),
    )
    op.create_index(op.f("ix_account_request_account_id"), "account_request", ["account_id"])
    op.create_index(op.f("ix_account_request_department_id"), "account_request", ["department_id"])
    op.create_index(op.f("ix_account_request_requester_id"), "account_request", ["requester_id"])
    op.create_index(op.f("ix_account_request_state"), "account_request", ["state"])
    op.create_index(
        "uq_account_request_open_decommission",
        "account_request",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text(
            "kind = 'decommission' AND state IN ('submitted', 'department_approved')"
        ),
        postgresql_where=sa.text(
            "kind = 'decommission' AND state IN ('submitted', 'department_approved')"
        ),
    )
    op.create_index(
        "uq_account_request_open_handle",
        "account_request",
        ["platform", "handle_normalized"],
        unique=True,
        sqlite_where=sa.text(
            "kind = 'new_account' AND state IN ('submitted', 'department_approved')"
        ),
        postgresql_where=sa.text(
            "kind = 'new_account' AND state IN ('submitted', 'department_approved')"
        ),
    )
    op.create_table(
        "request_holder",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["person.id"], name=op.f("fk_request_holder_added_by_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_request_holder_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["account_request.id"],
            name=op.f("fk_request_holder_request_id_account_request"),
        ),
        sa.PrimaryKeyConstraint("request_id", "person_id", name=op.f("pk_request_holder")),
    )


def downgrade() -> None:
    op.drop_table("request_holder")
    op.drop_table("account_request")
