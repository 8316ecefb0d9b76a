from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow

DEMO = "demo"  # the key ``registry demo`` sets


class RegistryMeta(SQLModel, table=True):
    """Facts about the registry itself, one row per key.

    ``demo``: the registry was made by ``registry demo`` and holds made-up content only (its
    value says when). The console then offers "Sign in as …" for its people. Only ``registry
    demo`` writes it, and only into an empty registry; no setting can stand in for it.
    """

    __tablename__ = "registry_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=500)
    set_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
