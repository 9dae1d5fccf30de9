"""Read models: the protobuf views of CRM records.

Each contact row also stores its serialized portal.crm.v1.Contact (column `view`), written in the
same statement as the row, so that reads return it without rebuilding 50 messages field by field.
"""
from crm.domain.model import Contact, CrmOrganization
from portal.crm.v1 import crm_pb2

ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country")


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
        created_at=contact.created_at, updated_at=contact.updated_at,
    )
    message.custom_fields.update(contact.custom_fields)
    return message


def organization_message(organization: CrmOrganization) -> crm_pb2.Organization:
    return crm_pb2.Organization(
        id=organization.id, name=organization.name, website=organization.website,
        industry=organization.industry, tax_id=organization.tax_id,
        billing_email=organization.billing_email, phone=organization.phone,
        address=crm_pb2.Address(**{name: getattr(organization, name) for name in ADDRESS_FIELDS}),
        created_at=organization.created_at, updated_at=organization.updated_at,
    )
