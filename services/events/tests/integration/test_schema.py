"""The migrations and the tables the code declares (adapters/tables.py) describe the same schema
(SQLite, or PostgreSQL with PORTAL_TEST_DATABASE)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from events.adapters.tables import metadata
from events.config import MIGRATIONS


def test_a_database_migrated_to_head_matches_the_table_metadata(databases):
    with databases.migrated_engine("events", MIGRATIONS) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        differences = [
            d
            for d in compare_metadata(context, metadata)
            if not (d[0] == "remove_table" and d[1].name == "alembic_version")
        ]
    assert differences == []
