"""Translation between protobuf messages and the CRM's domain and use-case types."""
from google.protobuf import json_format

from crm.adapters.views import ADDRESS_FIELDS
from crm.service_layer.contacts import ContactDetails, OrganizationDetails


def _given(message, name):
    return getattr(message, name) if message.HasField(name) else None


def contact_details(message) -> ContactDetails:
    """From ContactInput or AttendeeInfo: the fields the caller gave."""
    fields = {name: _given(message, name) for name in (
        "email", "first_name", "last_name", "phone", "company", "job_title", "subtype", "source",
        "source_ref", "notes") if name in message.DESCRIPTOR.fields_by_name}
    details = ContactDetails(**fields, tags=list(message.tags))
    if "custom_fields" in message.DESCRIPTOR.fields_by_name and message.HasField("custom_fields"):
        details.custom_fields = json_format.MessageToDict(message.custom_fields)
    return details


def organization_details(body) -> OrganizationDetails | None:
    """From ContactInput or EventRegistrationInput."""
    if not body.HasField("organization_info"):
        return None
    info = body.organization_info
    details = OrganizationDetails(**{name: _given(info, name) for name in (
        "name", "website", "industry", "tax_id", "billing_email", "phone")})
    for name in ADDRESS_FIELDS:
        setattr(details, name, _given(info.address, name))
    return details
