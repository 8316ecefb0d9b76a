from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow


class DepartmentBase(SQLModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)


class Department(DepartmentBase, table=True):
    __tablename__ = "department"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DepartmentPublic(DepartmentBase):
    id: int
