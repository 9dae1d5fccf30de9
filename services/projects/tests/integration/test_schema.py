"""The migrations and the tables the code declares (adapters/tables.py) describe one schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from projects.adapters.tables import metadata
from projects.config import MIGRATIONS

# Migration 0002's covering index for searched totals exists on SQLite only, by design.
SQLITE_ONLY = {"projects_search"}


def test_the_migrated_database_is_the_declared_schema(databases):
    with databases.migrated_engine("projects", MIGRATIONS) as engine, engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": lambda name, kind, parent: name not in SQLITE_ONLY,
            },
        )
        assert compare_metadata(context, metadata) == []
