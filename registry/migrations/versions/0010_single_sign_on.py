"""Single sign-on: a person's subject at the identity provider, sign-ins under way, and console
sessions without an API token (with an idle time and the ID token for signing out).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_identity_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_identity")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_person_identity_issuer")),
        sa.UniqueConstraint("person_id", "issuer", name=op.f("uq_person_identity_person_id")),
    )
    op.create_index(op.f("ix_person_identity_person_id"), "person_identity", ["person_id"])
    op.create_table(
        "sso_login",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_path", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_login")),
        sa.UniqueConstraint("state", name=op.f("uq_sso_login_state")),
    )
    op.create_index(op.f("ix_sso_login_browser_hash"), "sso_login", ["browser_hash"])
    op.create_index(op.f("ix_sso_login_created_at"), "sso_login", ["created_at"])
    with op.batch_alter_table("web_session") as batch:
        batch.add_column(sa.Column("last_seen_at", UTC, nullable=True))
        batch.add_column(sa.Column("id_token", sa.Text(), nullable=True))
        batch.alter_column("token_id", existing_type=sa.Integer(), nullable=True)
    op.execute("UPDATE web_session SET last_seen_at = created_at")
    with op.batch_alter_table("web_session") as batch:
        batch.alter_column("last_seen_at", existing_type=UTC, nullable=False)


def downgrade() -> None:
    # Sessions signed in without a token cannot be kept by the older schema: they end.
    op.execute("DELETE FROM web_session WHERE token_id IS NULL")
    with op.batch_alter_table("web_session") as batch:
        batch.alter_column("token_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("id_token")
        batch.drop_column("last_seen_at")
    op.drop_table("sso_login")
    op.drop_table("person_identity")
