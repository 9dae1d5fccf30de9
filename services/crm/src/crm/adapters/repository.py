"""The write model: CRM records in their own columns, read and written within one unit of work."""

import dataclasses
from typing import Callable

import sqlalchemy as sa

from crm.adapters.tables import contact_counts, contacts, crm_organizations
from crm.domain.model import Contact, CrmOrganization, EventRegistration
from portal_common.db import Repository, increment

_CONTACT_FIELDS = [f.name for f in dataclasses.fields(Contact)]
_CONTACT_COLUMNS = [contacts.c[name] for name in _CONTACT_FIELDS]
_ORGANIZATION_FIELDS = [f.name for f in dataclasses.fields(CrmOrganization)]
ORGANIZATION_COLUMNS = [crm_organizations.c[name] for name in _ORGANIZATION_FIELDS]

# Lookups built once: building a statement costs more than running it on a hot path.
_CONTACT_BY_ID = sa.select(*_CONTACT_COLUMNS).where(
    contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.id == sa.bindparam("key")
)
_CONTACT_BY_EMAIL = sa.select(*_CONTACT_COLUMNS).where(
    contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.email_key == sa.bindparam("key")
)
CRM_ORGANIZATION_BY_ID = sa.select(*ORGANIZATION_COLUMNS).where(
    crm_organizations.c.organization_id == sa.bindparam("organization_id"),
    crm_organizations.c.id == sa.bindparam("key"),
)


def organization_from_row(row) -> CrmOrganization:
    return CrmOrganization(**row._mapping)


class ContactRepository(Repository):
    """Contacts, with the per-organization counters of list totals and each row's read model (`view`,
    built by `contact_view`: the server gives the api's serializer, which this layer cannot import)."""

    def __init__(self, connection: sa.Connection, contact_view: Callable[[Contact], bytes]):
        super().__init__(connection, locking=True)  # it only works in write units of work
        self._contact_view = contact_view
        # The counter bucket of each contact read, so that a save moves it if it changed.
        self._counted_as: dict[str, tuple[str, str, str]] = {}

    def get(self, organization_id: str, contact_id: str) -> Contact | None:
        return self._first(_CONTACT_BY_ID, organization_id, contact_id)

    def by_email(self, organization_id: str, email_key: str) -> Contact | None:
        return self._first(_CONTACT_BY_EMAIL, organization_id, email_key)

    def add(self, contact: Contact) -> None:
        self._connection.execute(contacts.insert().values(**self._values(contact)))
        self._count(contact.organization_id, contact.count_key, +1)

    def save(self, contact: Contact) -> None:
        """Writes a contact read by this repository, and moves it between counters if it changed bucket."""
        self._connection.execute(contacts.update().where(contacts.c.id == contact.id).values(**self._values(contact)))
        counted_as = self._counted_as[contact.id]
        if contact.count_key != counted_as:
            self._count(contact.organization_id, counted_as, -1)
            self._count(contact.organization_id, contact.count_key, +1)
            self._counted_as[contact.id] = contact.count_key

    def _first(self, query: sa.Select, organization_id: str, key: str) -> Contact | None:
        row = self._connection.execute(self._reading(query), {"organization_id": organization_id, "key": key}).first()
        if row is None:
            return None
        values = dict(row._mapping)
        contact = Contact(**values | {"events": [EventRegistration(**e) for e in values["events"]]})
        self._counted_as[contact.id] = contact.count_key
        return contact

    def _values(self, contact: Contact) -> dict:
        values = {name: getattr(contact, name) for name in _CONTACT_FIELDS}
        values["events"] = [dataclasses.asdict(e) for e in contact.events]
        values["email_key"] = contact.email_key
        values["search_text"] = contact.search_text
        values["view"] = self._contact_view(contact)
        return values

    def _count(self, organization_id: str, key: tuple[str, str, str], delta: int) -> None:
        status, subtype, source = key
        increment(
            self._connection,
            contact_counts,
            {"organization_id": organization_id, "status": status, "subtype": subtype, "source": source},
            "count",
            delta,
        )


class CrmOrganizationRepository(Repository):
    def get(self, organization_id: str, crm_organization_id: str) -> CrmOrganization | None:
        row = self._connection.execute(
            self._reading(CRM_ORGANIZATION_BY_ID), {"organization_id": organization_id, "key": crm_organization_id}
        ).first()
        return organization_from_row(row) if row else None

    def matching(self, organization_id: str, name_key: str | None, website_key: str | None) -> CrmOrganization | None:
        """The CRM organization with this name (case-insensitive) or, failing that, this website."""
        for column, key in ((crm_organizations.c.name_key, name_key), (crm_organizations.c.website_key, website_key)):
            if key:
                query = (
                    sa.select(*ORGANIZATION_COLUMNS)
                    .where(crm_organizations.c.organization_id == organization_id, column == key)
                    .order_by(crm_organizations.c.created_at)
                    .limit(1)
                )
                row = self._connection.execute(self._reading(query)).first()
                if row:
                    return organization_from_row(row)
        return None

    def add(self, organization: CrmOrganization) -> None:
        values = {name: getattr(organization, name) for name in _ORGANIZATION_FIELDS}
        self._connection.execute(
            crm_organizations.insert().values(
                **values, name_key=organization.name_key, website_key=organization.website_key
            )
        )
