"""Translation between protobuf messages and the CRM's domain and use-case types."""
from google.protobuf import json_format

from crm.domain.model import Contact, CrmOrganization
from crm.service_layer.contacts import ContactDetails, OrganizationDetails
from portal.crm.v1 import crm_pb2

_ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country")


def _given(message, name):
    return getattr(message, name) if message.HasField(name) else None


def contact_details(message) -> ContactDetails:
    """From UpsertContactRequest or AttendeeInfo: the fields the caller gave."""
    fields = {name: _given(message, name) for name in (
        "email", "first_name", "last_name", "phone", "company", "job_title", "subtype", "source",
        "source_ref", "notes") if name in message.DESCRIPTOR.fields_by_name}
    details = ContactDetails(**fields, tags=list(message.tags))
    if "custom_fields" in message.DESCRIPTOR.fields_by_name and message.HasField("custom_fields"):
        details.custom_fields = json_format.MessageToDict(message.custom_fields)
    return details


def organization_details(request) -> OrganizationDetails | None:
    if not request.HasField("organization_info"):
        return None
    info = request.organization_info
    details = OrganizationDetails(**{name: _given(info, name) for name in (
        "name", "website", "industry", "tax_id", "billing_email", "phone")})
    for name in _ADDRESS_FIELDS:
        setattr(details, name, _given(info.address, name))
    return details


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
        address=crm_pb2.Address(**{name: getattr(organization, name) for name in _ADDRESS_FIELDS}),
        created_at=organization.created_at, updated_at=organization.updated_at,
    )
