"""The migrations build exactly the schema the models declare, on this test's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import registry.models  # noqa: F401
from registry import migrate
from tests.conftest import FreshDatabase


class TestMigrations:
    def test_models_and_migrations_agree(self, fresh_db: FreshDatabase) -> None:
        with fresh_db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
        assert diff == []

    def test_downgrade_to_base_and_back(self, fresh_db: FreshDatabase) -> None:
        assert migrate.current(fresh_db.engine) == migrate.head()
        migrate.downgrade(fresh_db.engine, "base")
        assert migrate.current(fresh_db.engine) is None
        migrate.upgrade(fresh_db.engine)
        assert migrate.current(fresh_db.engine) == migrate.head()
