"""Projects stored by an earlier revision read back the same after `migrate` (SQLite, or PostgreSQL
with PORTAL_TEST_DATABASE)."""

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from google.protobuf import json_format

from portal_common import db
from portal_common.auth import API_KEY, Principal
from projects.config import MIGRATIONS

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")


def migrate_to(engine: sa.Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def row_of_0002(number: int, budget_amount=None, budget_currency=None, **columns) -> dict:
    """A projects row as revision 0002 stored it: the budget a double in major units, and a
    view in the old message shape (here bytes no current code could read)."""
    return {
        "id": f"prj_{number}",
        "organization_id": "org_a",
        "project_code": f"PRJ-2025-{number:03d}",
        "subtype": "internal",
        "name": f"Project {number}",
        "description": None,
        "status": "active",
        "start_date": None,
        "target_end_date": None,
        "budget_amount": budget_amount,
        "budget_currency": budget_currency,
        "priority": "high",
        "progress": 45,
        "client_org_id": None,
        "detailed_description": None,
        "created_by": "key_a",
        "search_text": f"project {number}",
        "created_at": 1704067200000 + number,
        "updated_at": 1706659200000,
        "view": b"\x42\x03old",
        **columns,
    }


@pytest.fixture
def engine(databases):
    engine = db.create_engine(databases.new_url("projects"))
    yield engine
    engine.dispose()


def test_budgets_become_exact_minor_units_and_views_are_rebuilt(engine, service_on):
    migrate_to(engine, "0002")
    rows = [
        row_of_0002(
            1,
            50000.0,
            "USD",
            description="Corporate site",
            start_date=1704067200000,
            target_end_date=1709251200000,
            client_org_id="co_acme",
            detailed_description="<p>Rich</p>",
        ),
        row_of_0002(2, 1234.56, "EUR"),
        row_of_0002(3, 5000.0, "JPY"),
        row_of_0002(4, 1.234, "KWD"),
        row_of_0002(5, 999999999999.99, "USD"),
        row_of_0002(6, 10.005, "USD"),  # more decimals than cents: the first version took those
        row_of_0002(7),
    ]
    with engine.begin() as connection:
        connection.execute(sa.table("projects", *(sa.column(name) for name in rows[0])).insert(), rows)

    db.migrate(engine, MIGRATIONS)

    service = service_on(engine, crm=None)

    def read(number: int) -> dict:
        return json_format.MessageToDict(service.get_project(KEY, f"prj_{number}"))

    first = read(1)
    assert first == {
        "_id": "prj_1",
        "organizationId": "org_a",
        "type": "project",
        "subtype": "internal",
        "name": "Project 1",
        "description": "Corporate site",
        "status": "active",
        "createdBy": "key_a",
        "createdAt": 1704067200001.0,
        "updatedAt": 1706659200000.0,
        "customProperties": {
            "projectCode": "PRJ-2025-001",
            "startDate": 1704067200000.0,
            "targetEndDate": 1709251200000.0,
            "budget": {"amount": 50000.0, "amountInMinorUnits": 5000000.0, "currency": "USD"},
            "priority": "high",
            "progress": 45.0,
            "clientOrgId": "co_acme",
            "detailedDescription": "<p>Rich</p>",
        },
    }
    budgets = {number: read(number)["customProperties"].get("budget") for number in range(2, 8)}
    assert budgets == {
        2: {"amount": 1234.56, "amountInMinorUnits": 123456, "currency": "EUR"},
        3: {"amount": 5000, "amountInMinorUnits": 5000, "currency": "JPY"},
        4: {"amount": 1.234, "amountInMinorUnits": 1234, "currency": "KWD"},
        5: {"amount": 999999999999.99, "amountInMinorUnits": 99999999999999, "currency": "USD"},
        6: {"amount": 10.01, "amountInMinorUnits": 1001, "currency": "USD"},
        7: None,
    }
    # The amount that did not fit in cents is kept, readable through the API
    assert read(6)["customProperties"]["budgetAmountBeforeMigration"] == 10.005
    assert "budgetAmountBeforeMigration" not in read(2)["customProperties"]
    with engine.connect() as connection:
        columns = {column["name"] for column in sa.inspect(connection).get_columns("projects")}
        indexes = {index["name"] for index in sa.inspect(connection).get_indexes("projects")}
    assert "budget_amount" not in columns and {"budget_minor_units", "free_properties"} <= columns
    assert {"projects_code", "projects_newest", "projects_by_client"} <= indexes  # kept through the column drop
    # The rows are the write model as much as the views: an update of a migrated project keeps its budget.
    updated = service.update_project("org_a", "pk", "prj_2", {"progress": 50})
    assert (updated.budget.minor_units, updated.budget.currency, updated.progress) == (123456, "EUR", 50)
