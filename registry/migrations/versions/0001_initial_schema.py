"""Initial schema: departments, people and roles, accounts, access grants, tokens, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
NOT_DECOMMISSIONED = sa.text("status <> 'decommissioned'")
NOT_REVOKED = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("code", name=op.f("uq_department_code")),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("left_at", UTC, nullable=True),
        sa.CheckConstraint("status IN ('active', 'left')", name=op.f("ck_person_status")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_person_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("email", name=op.f("uq_person_email")),
    )
    op.create_index(op.f("ix_person_department_id"), "person", ["department_id"])
    op.create_table(
        "person_role",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "role IN ('requester', 'dept_approver', 'ced', 'admin', 'auditor')",
            name=op.f("ck_person_role_role"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_role_person_id_person")
        ),
        sa.PrimaryKeyConstraint("person_id", "role", name=op.f("pk_person_role")),
    )
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("handle", sa.String(length=200), nullable=False),
        sa.Column("handle_normalized", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("program_area", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=2000), nullable=False),
        sa.Column("login_email", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("activated_at", UTC, nullable=True),
        sa.Column("decommissioned_at", UTC, nullable=True),
        sa.Column("next_review_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "category IN ('official', 'employment_related')", name=op.f("ck_account_category")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'decommissioned')",
            name=op.f("ck_account_status"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_account_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
    )
    op.create_index(op.f("ix_account_department_id"), "account", ["department_id"])
    op.create_index(op.f("ix_account_status"), "account", ["status"])
    op.create_index(
        "uq_account_platform_handle_live",
        "account",
        ["platform", "handle_normalized"],
        unique=True,
        sqlite_where=NOT_DECOMMISSIONED,
        postgresql_where=NOT_DECOMMISSIONED,
    )
    op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_access_grant_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"], ["person.id"], name=op.f("fk_access_grant_granted_by_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_access_grant_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["person.id"], name=op.f("fk_access_grant_revoked_by_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grant")),
    )
    op.create_index(op.f("ix_access_grant_account_id"), "access_grant", ["account_id"])
    op.create_index(op.f("ix_access_grant_person_id"), "access_grant", ["person_id"])
    op.create_index(
        "uq_access_grant_account_person_live",
        "access_grant",
        ["account_id", "person_id"],
        unique=True,
        sqlite_where=NOT_REVOKED,
        postgresql_where=NOT_REVOKED,
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["person.id"], name=op.f("fk_api_token_created_by_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_api_token_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_person_id"), "api_token", ["person_id"])
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["person.id"], name=op.f("fk_audit_event_actor_id_person")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"])
    op.create_index(op.f("ix_audit_event_actor_id"), "audit_event", ["actor_id"])
    op.create_index("ix_audit_event_entity", "audit_event", ["entity_type", "entity_id"])


def downgrade() -> None:
    op.drop_table("audit_event")
    op.drop_table("api_token")
    op.drop_table("access_grant")
    op.drop_table("account")
    op.drop_table("person_role")
    op.drop_table("person")
    op.drop_table("department")
