"""The migrations and the tables the code declares (adapters/tables.py) describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from invoicing.adapters.tables import metadata


def test_the_migrations_build_exactly_the_declared_tables(migrated_engine):
    with migrated_engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
