"""Reads and writes CRM entities (the write model) within one connection (one unit of work)."""
import dataclasses

import sqlalchemy as sa

from crm.adapters.tables import contact_counts, contacts, crm_organizations
from crm.adapters.views import contact_message
from crm.domain.model import Contact, CrmOrganization, EventRegistration
from portal_common.db import Repository, increment, like_pattern

_CONTACT_FIELDS = [f.name for f in dataclasses.fields(Contact)]
_CONTACT_COLUMNS = [contacts.c[name] for name in _CONTACT_FIELDS]
_ORGANIZATION_FIELDS = [f.name for f in dataclasses.fields(CrmOrganization)]


# Lookups built once: building a statement costs more than running it on a hot path.
_CONTACT_BY_ID = sa.select(*_CONTACT_COLUMNS).where(
    contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.id == sa.bindparam("key"))
_CONTACT_BY_EMAIL = sa.select(*_CONTACT_COLUMNS).where(
    contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.email_key == sa.bindparam("key"))
_CRM_ORGANIZATION_BY_ID = sa.select(crm_organizations).where(
    crm_organizations.c.organization_id == sa.bindparam("organization_id"),
    crm_organizations.c.id == sa.bindparam("key"))


def _contact(row) -> Contact:
    contact = Contact(**row._mapping)
    contact.events = [EventRegistration(**e) for e in contact.events]
    return contact


def _contact_values(contact: Contact) -> dict:
    values = {name: getattr(contact, name) for name in _CONTACT_FIELDS}
    values["events"] = [dataclasses.asdict(e) for e in contact.events]
    values["email_key"] = contact.email_key
    values["search_text"] = contact.search_text
    values["view"] = contact_message(contact).SerializeToString()
    return values


def _organization_values(organization: CrmOrganization) -> dict:
    values = {name: getattr(organization, name) for name in _ORGANIZATION_FIELDS}
    values["name_key"] = organization.name_key
    values["website_key"] = organization.website_key
    return values


class CrmRepository(Repository):
    def _first(self, query: sa.Select, organization_id: str, key: str):
        params = {"organization_id": organization_id, "key": key}
        return self._connection.execute(self._reading(query), params).first()

    # Contacts

    def contact(self, organization_id: str, contact_id: str) -> Contact | None:
        row = self._first(_CONTACT_BY_ID, organization_id, contact_id)
        return _contact(row) if row else None

    def contact_by_email(self, organization_id: str, email_key: str) -> Contact | None:
        row = self._first(_CONTACT_BY_EMAIL, organization_id, email_key)
        return _contact(row) if row else None

    def add_contact(self, contact: Contact) -> None:
        self._connection.execute(contacts.insert().values(**_contact_values(contact)))
        self._count(contact.organization_id, contact.count_key, +1)

    def save_contact(self, contact: Contact, counted_as: tuple[str, str, str]) -> None:
        """Writes a changed contact; `counted_as` is its count_key when it was read."""
        self._connection.execute(contacts.update().where(contacts.c.id == contact.id)
                              .values(**_contact_values(contact)))
        if contact.count_key != counted_as:
            self._count(contact.organization_id, counted_as, -1)
            self._count(contact.organization_id, contact.count_key, +1)

    def _count(self, organization_id: str, key: tuple[str, str, str], delta: int) -> None:
        status, subtype, source = key
        increment(self._connection, contact_counts, {"organization_id": organization_id, "status": status,
                                                     "subtype": subtype, "source": source}, "count", delta)

    # CRM organizations

    def crm_organization(self, organization_id: str, crm_organization_id: str) -> CrmOrganization | None:
        row = self._first(_CRM_ORGANIZATION_BY_ID, organization_id, crm_organization_id)
        return self._organization(row)

    def crm_organization_matching(self, organization_id: str, name_key: str | None,
                                  website_key: str | None) -> CrmOrganization | None:
        """The CRM organization with this name (case-insensitive) or, failing that, this website."""
        for column, key in ((crm_organizations.c.name_key, name_key), (crm_organizations.c.website_key, website_key)):
            if key:
                query = sa.select(crm_organizations).where(
                    crm_organizations.c.organization_id == organization_id, column == key
                ).order_by(crm_organizations.c.created_at).limit(1)
                row = self._connection.execute(self._reading(query)).first()
                if row:
                    return self._organization(row)
        return None

    def add_crm_organization(self, organization: CrmOrganization) -> None:
        self._connection.execute(crm_organizations.insert().values(**_organization_values(organization)))

    def save_crm_organization(self, organization: CrmOrganization) -> None:
        self._connection.execute(crm_organizations.update().where(crm_organizations.c.id == organization.id)
                              .values(**_organization_values(organization)))

    def list_crm_organizations(self, organization_id: str, industry: str, search: str, limit: int, offset: int
                               ) -> tuple[list[CrmOrganization], int]:
        conditions = [crm_organizations.c.organization_id == organization_id]
        if industry:
            conditions.append(sa.func.lower(crm_organizations.c.industry) == industry.strip().lower())
        if search:
            pattern = like_pattern(search)
            conditions.append(sa.or_(crm_organizations.c.name_key.like(pattern, escape="\\"),
                                     crm_organizations.c.website_key.like(pattern, escape="\\")))
        rows = self._connection.execute(
            sa.select(crm_organizations).where(*conditions)
            .order_by(crm_organizations.c.created_at.desc(), crm_organizations.c.id.desc())
            .limit(limit).offset(offset)).all()
        total = self._connection.execute(sa.select(sa.func.count()).where(*conditions)).scalar_one()
        return [self._organization(row) for row in rows], total

    @staticmethod
    def _organization(row) -> CrmOrganization | None:
        if row is None:
            return None
        return CrmOrganization(**{name: row._mapping[name] for name in _ORGANIZATION_FIELDS})
