"""The CRM use cases on a fake unit of work: in-memory repositories, written only on commit."""

import copy

import pytest

from crm.domain.commands import ContactChanges, ContactDetails, EventDetails, OrganizationDetails
from crm.domain.model import Contact, CrmOrganization
from crm.service_layer.contacts import CrmService
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.outbox import MemoryEvents, RecordedEvent

ORG, OTHER = "org_a", "org_b"


class FakeContacts:
    """Rows hold copies, as a table would: a contact read and changed is not the row until saved."""

    def __init__(self, rows: dict[str, Contact]):
        self._rows = rows

    def get(self, organization_id: str, contact_id: str) -> Contact | None:
        contact = self._rows.get(contact_id)
        return copy.deepcopy(contact) if contact and contact.organization_id == organization_id else None

    def by_email(self, organization_id: str, email_key: str) -> Contact | None:
        return next(
            (
                copy.deepcopy(c)
                for c in self._rows.values()
                if c.organization_id == organization_id and c.email_key == email_key
            ),
            None,
        )

    def add(self, contact: Contact) -> None:
        assert contact.id not in self._rows
        self._rows[contact.id] = copy.deepcopy(contact)

    def save(self, contact: Contact) -> None:
        assert contact.id in self._rows
        self._rows[contact.id] = copy.deepcopy(contact)


class FakeOrganizations:
    def __init__(self, rows: dict[str, CrmOrganization]):
        self._rows = rows

    def get(self, organization_id: str, crm_organization_id: str) -> CrmOrganization | None:
        found = self._rows.get(crm_organization_id)
        return found if found and found.organization_id == organization_id else None

    def matching(self, organization_id: str, name_key: str | None, website_key: str | None):
        mine = [o for o in self._rows.values() if o.organization_id == organization_id]
        return next((o for o in mine if name_key and o.name_key == name_key), None) or next(
            (o for o in mine if website_key and o.website_key == website_key), None
        )

    def add(self, organization: CrmOrganization) -> None:
        self._rows[organization.id] = organization


class FakeUnitOfWork:
    """Each unit of work works on a copy of what was committed; commit() makes the copy the state."""

    def __init__(self):
        self.committed = {"contacts": {}, "organizations": {}}
        self.commits = 0
        self.recorded: list[RecordedEvent] = []  # the events of committed units of work

    def __call__(self) -> "FakeUnitOfWork":  # the use cases' factory
        return self

    def __enter__(self) -> "FakeUnitOfWork":
        self._working = copy.deepcopy(self.committed)
        self.contacts = FakeContacts(self._working["contacts"])
        self.organizations = FakeOrganizations(self._working["organizations"])
        self.events = MemoryEvents()
        return self

    def commit(self) -> None:
        self.committed = copy.deepcopy(self._working)
        self.recorded += self.events.added
        self.commits += 1

    def __exit__(self, *exc) -> None:
        del self._working, self.contacts, self.organizations


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def crm(uow) -> CrmService:
    return CrmService(uow, clock=lambda: 1_700_000_000_000)


def stored(uow: FakeUnitOfWork, contact_id: str) -> Contact:
    return uow.committed["contacts"][contact_id]


def test_an_upsert_creates_then_updates_the_contact_with_the_same_email(crm, uow):
    first = crm.upsert_contact(ORG, ContactDetails(email=" Jo@Example.com ", first_name="Jo", tags=["a"]), None)
    again = crm.upsert_contact(ORG, ContactDetails(email="jo@example.COM", last_name="Doe", tags=["b", "a"]), None)

    assert (first.created, again.created, again.contact.id) == (True, False, first.contact.id)
    contact = stored(uow, first.contact.id)
    assert (contact.name, contact.email, contact.tags) == ("Jo Doe", "jo@example.COM", ["a", "b"])
    assert (contact.created_at, contact.updated_at) == (1_700_000_000_000, 1_700_000_000_000)
    assert uow.commits == 2


def test_a_new_contact_joins_the_crm_organization_of_the_same_name_and_an_existing_one_never_moves(crm, uow):
    a = crm.upsert_contact(ORG, ContactDetails(email="a@acme.com"), OrganizationDetails(name="Acme", city="Paris"))
    b = crm.upsert_contact(ORG, ContactDetails(email="b@acme.com"), OrganizationDetails(name=" ACME "))
    moved = crm.upsert_contact(ORG, ContactDetails(email="a@acme.com"), OrganizationDetails(name="Globex"))
    same = crm.upsert_contact(ORG, ContactDetails(email="a@acme.com"), OrganizationDetails(name="acme"))

    assert a.contact.crm_organization_id == b.contact.crm_organization_id
    [acme] = uow.committed["organizations"].values()
    assert (acme.name, acme.city) == ("Acme", "Paris")
    assert moved.organization_ignored and moved.contact.crm_organization_id == acme.id
    assert not same.organization_ignored


def test_details_errors_name_the_field_where_it_was_sent_and_nothing_is_written(crm, uow):
    with pytest.raises(InvalidArgument) as raised:
        crm.upsert_contact(ORG, ContactDetails(email="a@x.io", job_title="x" * 201), None)
    assert raised.value.field == "job_title"
    with pytest.raises(InvalidArgument) as raised:
        crm.upsert_contact(
            ORG,
            ContactDetails(email="a@x.io"),
            OrganizationDetails(industry="Tech", sent_as={"name": "org.name", "website": "org.site"}),
        )
    assert (raised.value.field, raised.value.message) == ("org.name", "org.name or org.site is required")
    assert uow.commits == 0


def test_an_event_registration_records_the_event_and_keeps_an_existing_contacts_source(crm, uow):
    crm.upsert_contact(ORG, ContactDetails(email="jo@x.io", source="checkout"), None)
    result = crm.register_attendee(
        ORG, EventDetails("ev1", "Conf", 1_700_000_000_000.0), ContactDetails(email="JO@x.io", tags=["vip"]), None
    )
    new = crm.register_attendee(ORG, EventDetails("ev1", "Conf", 1), ContactDetails(email="new@x.io"), None)

    contact = stored(uow, result.contact.id)
    assert (contact.source, contact.tags) == ("checkout", ["vip"])
    assert [(e.event_id, e.event_date) for e in contact.events] == [("ev1", 1_700_000_000_000)]
    assert type(contact.events[0].event_date) is int
    assert (new.contact.source, new.contact.source_ref) == ("event", "ev1")


@pytest.mark.parametrize("event_date", [1.5, -1, 1e308])
def test_an_event_date_that_is_not_whole_milliseconds_from_1970_to_9999_is_refused(crm, uow, event_date):
    with pytest.raises(InvalidArgument) as raised:
        crm.register_attendee(ORG, EventDetails("ev1", "Conf", event_date), ContactDetails(email="a@x.io"), None)
    assert raised.value.field == "event_date"
    assert uow.commits == 0


def test_an_update_changes_only_the_given_fields_and_null_clears(crm, uow):
    details = ContactDetails(email="a@x.io", first_name="Al", phone="+1", tags=["t"], custom_fields={"k": 1})
    contact = crm.upsert_contact(ORG, details, None).contact

    updated = crm.update_contact(
        ORG,
        contact.id,
        ContactChanges.of(
            job_title=" CTO ", subtype="customer", phone=None, tags=None, custom_fields=None, first_name=None
        ),
    )

    assert updated == stored(uow, contact.id)
    assert (
        updated.job_title,
        updated.subtype,
        updated.phone,
        updated.tags,
        updated.custom_fields,
        updated.first_name,
        updated.email,
    ) == ("CTO", "customer", None, [], {}, "", "a@x.io")


@pytest.mark.parametrize(
    "changes, field",
    [
        (ContactChanges.of(email=None), "email"),
        (ContactChanges.of(source=" "), "source"),
        (ContactChanges.of(status="gone"), "status"),
        (ContactChanges.of(tags=["ok", "x" * 65]), "tags[1]"),
        (ContactChanges.of(custom_fields={"a": [1, 2**53]}), "custom_fields.a[1]"),
        (ContactChanges.of(notes="ok", portal_access="organization"), "portal_access"),
        (ContactChanges.of(crm_organization_id="co_elsewhere"), "crm_organization_id"),
    ],
)
def test_an_invalid_update_names_the_domain_field_and_writes_nothing(crm, uow, changes, field):
    contact = crm.upsert_contact(ORG, ContactDetails(email="a@x.io"), None).contact
    before = copy.deepcopy(uow.committed)

    with pytest.raises(InvalidArgument) as raised:
        crm.update_contact(ORG, contact.id, changes)

    assert raised.value.field == field
    assert uow.committed == before


def test_moving_a_contact_drops_its_grant_and_another_contacts_email_is_a_conflict(crm, uow):
    jo = crm.upsert_contact(ORG, ContactDetails(email="jo@acme.com"), OrganizationDetails(name="Acme")).contact
    globex = crm.upsert_contact(ORG, ContactDetails(email="x@globex.com"), OrganizationDetails(name="Globex")).contact

    granted = crm.update_contact(ORG, jo.id, ContactChanges.of(portal_access="organization"))
    moved = crm.update_contact(ORG, jo.id, ContactChanges.of(crm_organization_id=globex.crm_organization_id))
    assert (granted.portal_access, moved.portal_access) == ("organization", "contact")
    with pytest.raises(Conflict) as raised:
        crm.update_contact(ORG, jo.id, ContactChanges.of(email="X@globex.com"))
    assert raised.value.field == "email"
    assert crm.update_contact(ORG, jo.id, ContactChanges.of(email="JO@acme.com")).email == "JO@acme.com"


def test_archiving_twice_writes_once_and_other_organizations_contacts_are_not_found(crm, uow):
    contact = crm.upsert_contact(ORG, ContactDetails(email="a@x.io"), None).contact

    assert crm.archive_contact(ORG, contact.id).status == "inactive"
    commits = uow.commits
    assert crm.archive_contact(ORG, contact.id).status == "inactive"
    assert uow.commits == commits
    for call in (
        lambda: crm.archive_contact(OTHER, contact.id),
        lambda: crm.update_contact(OTHER, contact.id, ContactChanges.of(first_name="x")),
    ):
        with pytest.raises(NotFound):
            call()


# Events (docs/events.md): each change records its event once, in its unit of work; a write that
# changes nothing, or is refused, records none.


def recorded(uow: FakeUnitOfWork) -> list[tuple[str, str, str]]:
    return [(event.type, event.organization_id, event.obj.id) for event in uow.recorded]


def test_an_upsert_records_created_then_updated_only_when_something_changed(crm, uow):
    first = crm.upsert_contact(ORG, ContactDetails(email="jo@x.io", first_name="Jo"), None)
    crm.upsert_contact(ORG, ContactDetails(email="jo@x.io", first_name="Jo"), None)  # the same again
    crm.upsert_contact(ORG, ContactDetails(email="jo@x.io", last_name="Doe"), None)
    contact_id = first.contact.id
    assert recorded(uow) == [("contact.created", ORG, contact_id), ("contact.updated", ORG, contact_id)]
    assert uow.recorded[-1].obj == stored(uow, contact_id)  # the contact as committed


def test_a_contact_with_a_new_crm_organization_records_the_organization_first(crm, uow):
    result = crm.upsert_contact(ORG, ContactDetails(email="a@acme.com"), OrganizationDetails(name="Acme"))
    crm.upsert_contact(ORG, ContactDetails(email="b@acme.com"), OrganizationDetails(name="acme"))  # joins it
    organization_id = result.contact.crm_organization_id
    assert [(t, i) for t, _, i in recorded(uow)] == [
        ("crm_organization.created", organization_id),
        ("contact.created", result.contact.id),
        ("contact.created", uow.recorded[2].obj.id),
    ]


def test_an_event_registration_of_an_existing_contact_is_an_update(crm, uow):
    contact = crm.upsert_contact(ORG, ContactDetails(email="jo@x.io"), None).contact
    crm.register_attendee(ORG, EventDetails("ev1", "Launch", 1_700_000_000_000), ContactDetails(email="jo@x.io"), None)
    assert [t for t, _, _ in recorded(uow)] == ["contact.created", "contact.updated"]
    assert uow.recorded[-1].obj.events[0].event_id == "ev1" and uow.recorded[-1].obj.id == contact.id


def test_updates_record_only_real_changes_and_refusals_record_nothing(crm, uow):
    jo = crm.upsert_contact(ORG, ContactDetails(email="jo@x.io", first_name="Jo"), None).contact
    crm.upsert_contact(ORG, ContactDetails(email="al@x.io"), None)
    crm.update_contact(ORG, jo.id, ContactChanges.of(first_name="Jo"))  # no change
    with pytest.raises(Conflict):
        crm.update_contact(ORG, jo.id, ContactChanges.of(email="al@x.io"))
    with pytest.raises(InvalidArgument):
        crm.update_contact(ORG, jo.id, ContactChanges.of(status="gone"))
    crm.update_contact(ORG, jo.id, ContactChanges.of(phone="+1 555"))
    assert [t for t, _, _ in recorded(uow)] == ["contact.created", "contact.created", "contact.updated"]
    assert uow.recorded[-1].obj.phone == "+1 555"


def test_archiving_records_archived_once(crm, uow):
    contact = crm.upsert_contact(ORG, ContactDetails(email="jo@x.io"), None).contact
    crm.archive_contact(ORG, contact.id)
    crm.archive_contact(ORG, contact.id)
    with pytest.raises(NotFound):
        crm.archive_contact(OTHER, contact.id)
    assert recorded(uow) == [("contact.created", ORG, contact.id), ("contact.archived", ORG, contact.id)]
    assert uow.recorded[-1].obj.status == "inactive"
