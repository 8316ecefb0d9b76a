"""The registry's string enums, free of any database or validation import.

``registry.models`` re-exports them (``from registry.models import Role`` keeps working); they
live here so that the command line can offer them as choices without loading SQLAlchemy.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    requester = "requester"
    dept_approver = "dept_approver"
    ced = "ced"
    admin = "admin"
    auditor = "auditor"


class PersonStatus(StrEnum):
    active = "active"
    left = "left"


class Category(StrEnum):
    official = "official"
    employment_related = "employment_related"


class AccountStatus(StrEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"
    decommissioned = "decommissioned"


class Language(StrEnum):
    """The language an account publishes in. ``en`` and ``fr`` accounts may name their twin
    in the other official language."""

    en = "en"
    fr = "fr"
    bilingual = "bilingual"
    other = "other"


class OutboxStatus(StrEnum):
    """Where an e-mail in the outbox stands: waiting (or retrying), delivered, or given up on."""

    queued = "queued"
    sent = "sent"
    failed = "failed"
