"""Read models: the protobuf views of CRM records, and the queries that read them.

Each contact row also stores its serialized portal.crm.v1.Contact (column `view`), written in the
same statement as the row (see repository.py), so that reads return it without rebuilding
messages field by field.
"""
import dataclasses
import functools

import sqlalchemy as sa

from crm.adapters.tables import contact_counts, contacts
from crm.domain.model import Contact, CrmOrganization
from portal.crm.v1 import crm_pb2
from portal_common.db import HotConnection, HotQuery, like_pattern
from portal_common.wire import repeated_message_field

ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country")
_CONTACTS_FIELD = crm_pb2.ListContactsResponse.DESCRIPTOR.fields_by_name["contacts"].number
_CONTACT_VIEW_BY_ID = HotQuery(sa.select(contacts.c.view).where(
    contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.id == sa.bindparam("contact_id")))


@dataclasses.dataclass(frozen=True)
class ContactFilter:
    status: str
    subtype: str = ""
    source: str = ""
    search: str = ""
    crm_organization_id: str = ""

    def given(self) -> dict[str, bool]:
        return {"subtype": bool(self.subtype), "source": bool(self.source), "search": bool(self.search),
                "crm_organization_id": bool(self.crm_organization_id)}


def contact_view(connection: HotConnection, organization_id: str, contact_id: str) -> crm_pb2.Contact | None:
    rows = _CONTACT_VIEW_BY_ID.rows(connection, {"organization_id": organization_id, "contact_id": contact_id})
    return crm_pb2.Contact.FromString(rows[0][0]) if rows else None


def contact_page(connection: HotConnection, organization_id: str, where: ContactFilter, limit: int,
                 offset: int) -> crm_pb2.ListContactsResponse:
    """A page of contacts, newest first, and how many match in all."""
    page, count = _contact_list_queries(**where.given())
    params = {"organization_id": organization_id, "status": where.status, "subtype": where.subtype,
              "source": where.source, "crm_organization_id": where.crm_organization_id,
              "search": like_pattern(where.search), "limit": limit, "offset": offset}
    views = (view for view, in page.rows(connection, params))
    response = crm_pb2.ListContactsResponse.FromString(repeated_message_field(_CONTACTS_FIELD, views))
    response.total, response.limit, response.offset = int(count.rows(connection, params)[0][0]), limit, offset
    return response


@functools.cache
def _contact_list_queries(subtype: bool, source: bool, search: bool, crm_organization_id: bool):
    """(page, total) statements for one combination of filters, built once; values are bound later.

    Totals without search or CRM organization come from the contact_counts counters, so that they
    cost the same at a million contacts as at ten.
    """
    param = sa.bindparam
    conditions = [contacts.c.organization_id == param("organization_id"), contacts.c.status == param("status")]
    counters = [contact_counts.c.organization_id == param("organization_id"),
                contact_counts.c.status == param("status")]
    if subtype:
        conditions.append(contacts.c.subtype == param("subtype"))
        counters.append(contact_counts.c.subtype == param("subtype"))
    if source:
        conditions.append(contacts.c.source == param("source"))
        counters.append(contact_counts.c.source == param("source"))
    if crm_organization_id:
        conditions.append(contacts.c.crm_organization_id == param("crm_organization_id"))
    if search:
        conditions.append(contacts.c.search_text.like(param("search"), escape="\\"))
    page = (sa.select(contacts.c.view).where(*conditions)
            .order_by(contacts.c.created_at.desc(), contacts.c.id.desc())
            .limit(param("limit")).offset(param("offset")))
    if search or crm_organization_id:
        total = sa.select(sa.func.count()).select_from(contacts).where(*conditions)
    else:
        total = sa.select(sa.func.coalesce(sa.func.sum(contact_counts.c.count), 0)).where(*counters)
    return HotQuery(page), HotQuery(total)


def contact_message(contact: Contact) -> crm_pb2.Contact:
    message = crm_pb2.Contact(
        id=contact.id, name=contact.name, first_name=contact.first_name, last_name=contact.last_name,
        email=contact.email, phone=contact.phone, company=contact.company, job_title=contact.job_title,
        subtype=contact.subtype, status=contact.status, source=contact.source,
        source_ref=contact.source_ref, tags=contact.tags, notes=contact.notes,
        crm_organization_id=contact.crm_organization_id,
        events=[crm_pb2.EventRegistration(event_id=e.event_id, event_name=e.event_name,
                                          event_date=e.event_date, registered_at=e.registered_at)
                for e in contact.events],
        created_at=contact.created_at, updated_at=contact.updated_at, portal_access=contact.portal_access,
    )
    message.custom_fields.SetInParent()  # an empty object prints as {} rather than not at all
    message.custom_fields.update(contact.custom_fields)
    return message


# What a portal user (the customer) may read of its own contact; notes, tags, customFields,
# source, sourceRef, subtype, events and the grant are the organization's internal data.
_CUSTOMER_FACING = ("id", "name", "first_name", "last_name", "email", "phone", "company", "job_title", "status",
                    "crm_organization_id", "created_at", "updated_at")


def customer_facing(contact: crm_pb2.Contact) -> crm_pb2.Contact:
    shown = crm_pb2.Contact()
    for field in _CUSTOMER_FACING:
        if contact.HasField(field) if contact.DESCRIPTOR.fields_by_name[field].has_presence else True:
            setattr(shown, field, getattr(contact, field))
    return shown


def organization_message(organization: CrmOrganization) -> crm_pb2.Organization:
    return crm_pb2.Organization(
        id=organization.id, name=organization.name, website=organization.website,
        industry=organization.industry, tax_id=organization.tax_id,
        billing_email=organization.billing_email, phone=organization.phone,
        address=crm_pb2.Address(**{name: getattr(organization, name) for name in ADDRESS_FIELDS}),
        created_at=organization.created_at, updated_at=organization.updated_at,
    )
