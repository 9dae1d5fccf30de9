"""Contacts stored by an earlier revision read back the same after `migrate` (SQLite, or PostgreSQL
with PORTAL_TEST_DATABASE)."""

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from crm.adapters.tables import contacts
from crm.api.mapping import contact_from_view, contact_message, contact_page_message
from crm.config import MIGRATIONS
from crm.domain.model import Contact
from crm.queries import ContactFilter, CrmQueries
from portal_common import db
from portal_common.auth import API_KEY, Principal

ORG = "org_a"


@pytest.fixture
def engine(databases):
    engine = db.create_engine(databases.new_url("crm"))
    yield engine
    engine.dispose()


def _at_0001(engine: sa.Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")


def _row_of_0001(number: int) -> dict:
    """A contacts row as revision 0001 stored it: its view a Contact message without field 20 (an
    empty portal_access is not serialized, so these are the bytes the earlier code wrote)."""
    contact = Contact(
        id=f"ct_{number}",
        organization_id=ORG,
        email=f"c{number}@example.com",
        first_name=f"C{number}",
        tags=["vip"],
        notes="internal",
        custom_fields={"n": number},
        crm_organization_id="co_1" if number % 2 else None,
        created_at=1000 + number,
        updated_at=2000,
        portal_access="",
    )
    view = contact_message(contact).SerializeToString()
    assert b"contact" not in view
    return {
        "id": contact.id,
        "organization_id": ORG,
        "email": contact.email,
        "email_key": contact.email,
        "first_name": contact.first_name,
        "last_name": "",
        "phone": None,
        "company": None,
        "job_title": None,
        "subtype": "lead",
        "status": "active",
        "source": "api",
        "source_ref": None,
        "tags": ["vip"],
        "notes": "internal",
        "custom_fields": {"n": number},
        "crm_organization_id": contact.crm_organization_id,
        "events": [],
        "search_text": contact.email,
        "created_at": contact.created_at,
        "updated_at": 2000,
        "view": view,
    }


def test_existing_contacts_get_own_records_only_access_in_rows_and_views(engine):
    _at_0001(engine)
    rows = [_row_of_0001(number) for number in range(1, 2502)]  # more than one batch of the migration
    with engine.begin() as connection:
        connection.execute(contacts.insert(), rows)  # the columns of 0001: portal_access is not among them

    db.migrate(engine, MIGRATIONS)

    queries = CrmQueries(db.Database(engine))
    key = Principal(kind=API_KEY, organization_id=ORG)
    for number in (1, 2, 1000, 1001, 2501):
        view = contact_from_view(queries.contact_view(key, f"ct_{number}"), customer_facing=False)
        assert (view.portal_access, view.first_name, list(view.tags), view.notes) == (
            "contact",
            f"C{number}",
            ["vip"],
            "internal",
        )
        assert view.custom_fields["n"] == number
        assert queries.portal_access(ORG, f"ct_{number}").portal_access == "contact"
    page = contact_page_message(queries.contact_page(ORG, ContactFilter(status="active"), 200, 0), 200, 0)
    assert len(page.contacts) == 200 and {c.portal_access for c in page.contacts} == {"contact"}
