from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from registry.models.base import PersonStatus, Role, UTCDateTime, sql_in, utcnow


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (CheckConstraint(f"status IN ({sql_in(PersonStatus)})", name="status"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    department_id: int = Field(foreign_key="department.id", index=True)
    status: str = Field(default=PersonStatus.active.value, max_length=16)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    left_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class PersonRole(SQLModel, table=True):
    """One role a person holds; a person may hold several."""

    __tablename__ = "person_role"
    __table_args__ = (CheckConstraint(f"role IN ({sql_in(Role)})", name="role"),)

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    role: str = Field(max_length=16, primary_key=True)


class PersonCreate(SQLModel):
    email: str = Field(max_length=254)
    name: str = Field(min_length=1, max_length=200)
    department: str = Field(min_length=1, max_length=32, description="Department code.")
    roles: list[Role] = Field(default_factory=lambda: [Role.requester])


class PersonUpdate(SQLModel):
    """What ``PATCH /people/{email}`` changes: the whole set of roles, the department, or both
    (a field left out stays as it is)."""

    roles: list[Role] | None = Field(
        default=None, max_length=len(Role), description="Every role the person holds from now."
    )
    department: str | None = Field(
        default=None, min_length=1, max_length=32, description="Department code."
    )


class PersonPublic(SQLModel):
    id: int
    email: str
    name: str
    department: str
    roles: list[str]
    status: str
    created_at: dt.datetime
    left_at: dt.datetime | None
