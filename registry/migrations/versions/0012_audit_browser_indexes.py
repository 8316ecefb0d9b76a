"""Indexes for the audit log browser's filters: who did it (read newest first) and when, so a
filter on a million events reads its own rows, not the whole log.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_event_actor_email", "audit_event", ["actor_email", "seq"])
    op.create_index("ix_audit_event_at", "audit_event", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_index("ix_audit_event_actor_email", table_name="audit_event")
