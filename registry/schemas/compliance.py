"""The compliance report's shapes (``registry.services.compliance`` fills them)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import Field, SQLModel


class Fix(StrEnum):
    """What fixes a finding, for a program to act on: the console links each to its form, the
    CLI names its command. The finding's ``message`` says the same in plain words."""

    add_holder = "add_holder"  # give one more person (from CED) access
    remove_holder = "remove_holder"  # end the access of a holder who left
    store_credential = "store_credential"  # put the missing credential on file
    rotate_credential = "rotate_credential"  # change it on the platform, store the new one
    record_review = "record_review"  # review the account and record it
    decide_request = "decide_request"  # the waiting request's decider decides


class Finding(SQLModel):
    department: str
    account_id: int | None = None
    request_id: int | None = None
    platform: str | None = None
    handle: str | None = None
    rule: int
    severity: str
    code: str
    message: str
    fix: Fix | None = Field(
        default=None,
        description="What fixes it; null when nothing in the registry does (the message says).",
    )


class DepartmentTotals(SQLModel):
    department: str
    active_accounts: int
    findings: int
    high: int
    medium: int
    # Active accounts without the platform's permanent id on file (not a rule's finding: what
    # CED records at the next review, so an account verifies by it whatever its handle).
    without_platform_id: int = 0


class ComplianceReport(SQLModel):
    generated_at: dt.datetime
    department: str | None
    findings: list[Finding] = Field(default_factory=list)
    totals: list[DepartmentTotals] = Field(default_factory=list)
