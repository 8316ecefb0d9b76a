"""The compliance report's shapes (``registry.services.compliance`` fills them)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel


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


class DepartmentTotals(SQLModel):
    department: str
    active_accounts: int
    findings: int
    high: int
    medium: int


class ComplianceReport(SQLModel):
    generated_at: dt.datetime
    department: str | None
    findings: list[Finding] = Field(default_factory=list)
    totals: list[DepartmentTotals] = Field(default_factory=list)
