"""The migrations are the schema's history and adapters/tables.py is how the code sees it: they
must describe the same tables."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from auth.adapters.tables import metadata
from auth.config import MIGRATIONS


def test_the_migrated_database_matches_the_table_metadata(databases):
    with databases.migrated_engine("auth", MIGRATIONS) as engine, engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
