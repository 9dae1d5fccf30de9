"""The CRM use cases against a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE)."""

import threading

import pytest
from google.protobuf import struct_pb2

from crm.api import mapping
from crm.config import MIGRATIONS
from crm.domain.commands import ContactDetails, EventDetails, OrganizationDetails
from crm.queries import ContactFilter, CrmQueries
from crm.server import new_outbox
from crm.service_layer.contacts import CrmService
from crm.service_layer.unit_of_work import CrmUnitOfWork
from portal.crm.v1 import crm_pb2
from portal_common import db
from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.json_body import client_paths


class Crm:
    """The use cases and queries as the servicers call them, on a real database: PATCH bodies are
    JSON objects as clients send them, and reads answer messages."""

    def __init__(self, database: db.Database):
        self._service = CrmService(lambda: CrmUnitOfWork(database, new_outbox(), mapping.contact_view))
        self._queries = CrmQueries(database)
        self.upsert_contact = self._service.upsert_contact
        self.register_attendee = self._service.register_attendee
        self.archive_contact = self._service.archive_contact
        self.get_crm_organization = self._queries.crm_organization
        self.list_crm_organizations = self._queries.crm_organizations
        self.portal_access = self._queries.portal_access

    def update_contact(self, organization_id, contact_id, changes: dict):
        body = struct_pb2.Struct()
        body.update(changes)
        with client_paths(crm_pb2.Contact.DESCRIPTOR):
            return self._service.update_contact(organization_id, contact_id, mapping.contact_changes(body))

    def get_contact(self, principal, contact_id):
        return mapping.contact_from_view(
            self._queries.contact_view(principal, contact_id), customer_facing=principal.is_portal_user
        )

    def find_contact_by_email(self, organization_id, email):
        return mapping.contact_from_view(
            self._queries.contact_view_by_email(organization_id, email), customer_facing=False
        )

    def list_contacts(self, organization_id, where, limit, offset):
        return mapping.contact_page_message(
            self._queries.contact_page(organization_id, where, limit, offset), limit, offset
        )


@pytest.fixture
def crm(databases):
    with databases.migrated_engine("crm", MIGRATIONS) as engine:
        yield Crm(db.Database(engine))


ORG, OTHER = "org_a", "org_b"
ACTIVE = ContactFilter(status="active")


def test_upsert_matches_by_email_and_merges_tags(crm):
    first = crm.upsert_contact(ORG, ContactDetails(email="Jo@Example.com", first_name="Jo", tags=["a"]), None)
    again = crm.upsert_contact(ORG, ContactDetails(email=" jo@example.COM ", last_name="Doe", tags=["b", "a"]), None)
    assert first.created and not again.created
    assert again.contact.id == first.contact.id
    assert (again.contact.name, again.contact.tags) == ("Jo Doe", ["a", "b"])
    assert crm.list_contacts(ORG, ACTIVE, 50, 0).total == 1


def test_organizations_are_found_by_name_or_website_and_never_changed_by_upserts(crm):
    a = crm.upsert_contact(
        ORG, ContactDetails(email="a@acme.com"), OrganizationDetails(name="Acme Corp", industry="Technology")
    )
    b = crm.upsert_contact(
        ORG, ContactDetails(email="b@acme.com"), OrganizationDetails(name="ACME corp", industry="Retail", city="Paris")
    )
    c = crm.upsert_contact(
        ORG, ContactDetails(email="c@acme.com"), OrganizationDetails(name="Acme Inc", website="https://acme.com")
    )
    d = crm.upsert_contact(
        ORG, ContactDetails(email="d@acme.com"), OrganizationDetails(name="Other", website="http://www.acme.com/")
    )
    assert a.contact.crm_organization_id == b.contact.crm_organization_id
    assert c.contact.crm_organization_id != a.contact.crm_organization_id  # new name, new website
    assert d.contact.crm_organization_id == c.contact.crm_organization_id  # same website
    acme = crm.get_crm_organization(ORG, a.contact.crm_organization_id)
    assert (acme.industry, acme.city) == ("Technology", None)  # public forms cannot edit an organization


def test_counted_totals_follow_filters_updates_and_archiving(crm):
    for i, subtype in enumerate(["lead", "lead", "customer"]):
        crm.upsert_contact(ORG, ContactDetails(email=f"c{i}@x.io", subtype=subtype), None)
    crm.upsert_contact(OTHER, ContactDetails(email="c0@x.io"), None)
    leads = ContactFilter(status="active", subtype="lead")
    page = crm.list_contacts(ORG, leads, 50, 0)
    contacts = page.contacts
    assert page.total == 2 and len(contacts) == 2
    crm.update_contact(ORG, contacts[0].id, {"subtype": "customer"})
    assert crm.list_contacts(ORG, leads, 50, 0).total == 1
    crm.archive_contact(ORG, contacts[1].id)
    crm.archive_contact(ORG, contacts[1].id)  # archiving twice changes nothing
    assert crm.list_contacts(ORG, leads, 50, 0).total == 0
    assert crm.list_contacts(ORG, ContactFilter(status="inactive"), 50, 0).total == 1
    assert crm.list_contacts(ORG, ACTIVE, 50, 0).total == 2


def test_lists_are_newest_first_and_pages_do_not_overlap(crm):
    ids = [crm.upsert_contact(ORG, ContactDetails(email=f"p{i}@x.io"), None).contact.id for i in range(7)]
    pages = [crm.list_contacts(ORG, ACTIVE, 3, offset).contacts for offset in (0, 3, 6)]
    assert [c.id for page in pages for c in page] == list(reversed(ids))


def test_search_is_case_insensitive_over_name_email_and_company(crm):
    crm.upsert_contact(ORG, ContactDetails(email="zoe@x.io", first_name="Zoë", company="Big_Co 100%"), None)
    crm.upsert_contact(ORG, ContactDetails(email="max@x.io", first_name="Max"), None)
    for term in ("ZOË", "ZOE@X", "big_co 100%"):
        page = crm.list_contacts(ORG, ContactFilter(status="active", search=term), 50, 0)
        assert [c.email for c in page.contacts] == ["zoe@x.io"] and page.total == 1, term
    assert crm.list_contacts(ORG, ContactFilter(status="active", search="_"), 50, 0).total == 1


def test_event_registration_records_the_event_and_merges_tags(crm):
    crm.upsert_contact(ORG, ContactDetails(email="jo@x.io", tags=["known"], source="checkout"), None)
    result = crm.register_attendee(
        ORG, EventDetails("ev1", "Conf", 1700000000000), ContactDetails(email="JO@x.io", tags=["vip"]), None
    )
    assert not result.created
    assert result.contact.tags == ["known", "vip"]
    assert result.contact.source == "checkout"  # an existing contact keeps where it came from
    assert [(e.event_id, e.event_date) for e in result.contact.events] == [("ev1", 1700000000000)]
    new = crm.register_attendee(ORG, EventDetails("ev1", "Conf", 1), ContactDetails(email="new@x.io"), None)
    assert (new.created, new.contact.source, new.contact.source_ref) == (True, "event", "ev1")


def test_updates_validate_and_refuse_email_collisions(crm):
    a = crm.upsert_contact(ORG, ContactDetails(email="a@x.io"), None).contact
    crm.upsert_contact(ORG, ContactDetails(email="b@x.io"), None)
    with pytest.raises(Conflict):
        crm.update_contact(ORG, a.id, {"email": "B@x.io"})
    with pytest.raises(InvalidArgument) as raised:
        crm.update_contact(ORG, a.id, {"status": "gone"})
    assert raised.value.field == "status"
    with pytest.raises(InvalidArgument):
        crm.update_contact(ORG, a.id, {"crmOrganizationId": "co_elsewhere"})
    updated = crm.update_contact(ORG, a.id, {"email": "A2@x.io", "phone": None, "tags": ["t"]})
    assert (updated.email, updated.phone, updated.tags) == ("A2@x.io", None, ["t"])


def test_other_organizations_records_are_not_found(crm):
    a = crm.upsert_contact(ORG, ContactDetails(email="a@x.io"), OrganizationDetails(name="Acme")).contact
    with pytest.raises(NotFound):
        crm.get_contact(Principal(kind=API_KEY, organization_id=OTHER), a.id)
    with pytest.raises(NotFound):
        crm.update_contact(OTHER, a.id, {"firstName": "x"})
    with pytest.raises(NotFound):
        crm.archive_contact(OTHER, a.id)
    with pytest.raises(NotFound):
        crm.get_crm_organization(OTHER, a.crm_organization_id)
    assert crm.list_contacts(OTHER, ACTIVE, 50, 0).total == 0
    assert crm.list_crm_organizations(OTHER, "", "", 50, 0) == ([], 0)


def test_concurrent_upserts_of_one_email_make_one_contact(crm):
    results, barrier = [], threading.Barrier(8)

    def upsert(i):
        barrier.wait()
        results.append(
            crm.upsert_contact(
                ORG, ContactDetails(email="race@x.io", tags=[f"t{i}"]), OrganizationDetails(name="Race Co")
            )
        )

    threads = [threading.Thread(target=upsert, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert sum(r.created for r in results) == 1
    assert len({r.contact.id for r in results}) == 1
    page = crm.list_contacts(ORG, ACTIVE, 50, 0)
    assert page.total == 1 and sorted(page.contacts[0].tags) == sorted(f"t{i}" for i in range(8))


def test_an_upsert_never_moves_an_existing_contact_nor_touches_its_grant(crm):
    victim = crm.upsert_contact(ORG, ContactDetails(email="jo@acme.com"), OrganizationDetails(name="Acme"))
    crm.update_contact(ORG, victim.contact.id, {"portalAccess": "organization"})
    again = crm.upsert_contact(
        ORG, ContactDetails(email="JO@acme.com", first_name="Jo"), OrganizationDetails(name="Evil Corp")
    )
    assert again.organization_ignored and not again.created
    assert (again.contact.crm_organization_id, again.contact.portal_access) == (
        victim.contact.crm_organization_id,
        "organization",
    )
    assert again.contact.first_name == "Jo"  # the contact's own details are updated, as the seed says


def test_portal_access_is_granted_explicitly_and_dropped_by_a_move(crm):
    jo = crm.upsert_contact(ORG, ContactDetails(email="jo@acme.com"), OrganizationDetails(name="Acme")).contact
    other_org = crm.upsert_contact(ORG, ContactDetails(email="x@globex.com"), OrganizationDetails(name="Globex"))
    assert jo.portal_access == "contact"
    assert crm.update_contact(ORG, jo.id, {"portalAccess": "organization"}).portal_access == "organization"
    moved = crm.update_contact(ORG, jo.id, {"crmOrganizationId": other_org.contact.crm_organization_id})
    assert moved.portal_access == "contact"
    both = crm.update_contact(ORG, jo.id, {"crmOrganizationId": jo.crm_organization_id, "portalAccess": "organization"})
    assert (both.crm_organization_id, both.portal_access) == (jo.crm_organization_id, "organization")
    assert crm.update_contact(ORG, jo.id, {"crmOrganizationId": None}).portal_access == "contact"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"portalAccess": "everything"}, "portalAccess"),
        ({"portalAccess": None}, "portalAccess"),
        ({"portalAccess": "organization"}, "portalAccess"),
    ],
)
def test_bad_grants_are_refused(crm, changes, field):
    loner = crm.upsert_contact(ORG, ContactDetails(email="solo@example.com"), None).contact  # no CRM organization
    with pytest.raises(InvalidArgument) as raised:
        crm.update_contact(ORG, loner.id, changes)
    assert raised.value.field == field


def test_portal_access_and_lookups_by_email_see_archived_contacts(crm):
    jo = crm.upsert_contact(ORG, ContactDetails(email="jo@acme.com"), OrganizationDetails(name="Acme")).contact
    crm.archive_contact(ORG, jo.id)
    assert crm.find_contact_by_email(ORG, "JO@acme.com").status == "inactive"
    access = crm.portal_access(ORG, jo.id)
    assert (access.status, access.crm_organization_id, access.portal_access) == (
        "inactive",
        jo.crm_organization_id,
        "contact",
    )
    with pytest.raises(NotFound):
        crm.portal_access(OTHER, jo.id)


def test_a_portal_user_reads_only_the_customer_facing_part_of_its_contact(crm):
    details = ContactDetails(
        email="jo@acme.com",
        first_name="Jo",
        last_name="Doe",
        phone="+1",
        company="Acme",
        job_title="CTO",
        notes="internal: difficult client",
        tags=["vip"],
        source="event",
        source_ref="expo",
        custom_fields={"score": 3},
    )
    jo = crm.upsert_contact(ORG, details, OrganizationDetails(name="Acme")).contact
    portal = Principal(kind="portal_user", organization_id=ORG, crm_contact_id=jo.id)
    seen = crm.get_contact(portal, jo.id)
    assert (
        seen.id,
        seen.first_name,
        seen.last_name,
        seen.email,
        seen.phone,
        seen.company,
        seen.job_title,
        seen.crm_organization_id,
    ) == (jo.id, "Jo", "Doe", "jo@acme.com", "+1", "Acme", "CTO", jo.crm_organization_id)
    assert not seen.HasField("notes") and not seen.HasField("custom_fields") and not seen.HasField("source_ref")
    assert (list(seen.tags), seen.source, seen.subtype, seen.portal_access, list(seen.events)) == ([], "", "", "", [])
    full = crm.get_contact(Principal(kind=API_KEY, organization_id=ORG), jo.id)
    assert (full.notes, list(full.tags), full.portal_access) == ("internal: difficult client", ["vip"], "contact")
