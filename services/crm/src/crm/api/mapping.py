"""The one module that knows both sides: portal.crm.v1 messages and JSON bodies on one, the CRM's
domain commands and objects on the other."""

import dataclasses

from google.protobuf import json_format, struct_pb2

from crm.domain.commands import (
    ADDRESS_FIELDS,
    ContactChanges,
    ContactDetails,
    EventDetails,
    OrganizationDetails,
)
from crm.domain.model import Contact, CrmOrganization
from crm.queries import ContactPage, PortalAccess
from crm.service_layer.contacts import UpsertResult
from portal.crm.v1 import crm_pb2
from portal_common.domain_errors import InvalidArgument
from portal_common.event_json import message_object
from portal_common.json_body import body_dict, json_path, read_message
from portal_common.validation import shown
from portal_common.wire import repeated_message_field

_CONTACT_INPUT = crm_pb2.ContactInput.DESCRIPTOR
_EVENT_INPUT = crm_pb2.EventRegistrationInput.DESCRIPTOR
_CONTACT_DETAILS = [f.name for f in dataclasses.fields(ContactDetails) if f.name != "sent_as"]
_ORGANIZATION_DETAILS = [f.name for f in dataclasses.fields(OrganizationDetails) if f.name != "sent_as"]


# Where each attribute of an upsert's details was in the body (see domain/commands.py), by body shape.
def _paths(descriptor, attributes, proto_path) -> dict[str, str]:
    return {name: json_path(proto_path(name), descriptor) for name in attributes}


def _organization_info(name: str) -> str:
    return f"organization_info.address.{name}" if name in ADDRESS_FIELDS else f"organization_info.{name}"


_CONTACT_PATHS = _paths(_CONTACT_INPUT, _CONTACT_DETAILS, str)
_ATTENDEE_PATHS = _paths(
    _EVENT_INPUT,
    [name for name in _CONTACT_DETAILS if name in crm_pb2.AttendeeInfo.DESCRIPTOR.fields_by_name],
    "attendee_info.{}".format,
)
_EVENT_PATHS = _paths(_EVENT_INPUT, ("event_id", "event_name", "event_date"), str)
_ORGANIZATION_PATHS = {
    descriptor: _paths(descriptor, _ORGANIZATION_DETAILS, _organization_info)
    for descriptor in (_CONTACT_INPUT, _EVENT_INPUT)
}


def _given(message, name: str):
    return getattr(message, name) if message.HasField(name) else None


def _contact_details(message, sent_as: dict[str, str]) -> ContactDetails:
    """From ContactInput or AttendeeInfo: the fields the caller gave."""
    fields = message.DESCRIPTOR.fields_by_name
    given = {
        name: _given(message, name) for name in _CONTACT_DETAILS if name in fields and name not in ("email", "tags")
    }
    if given.get("custom_fields") is not None:
        given["custom_fields"] = json_format.MessageToDict(message.custom_fields)
    return ContactDetails(**given, email=message.email, tags=list(message.tags), sent_as=sent_as)


def _organization_details(body) -> OrganizationDetails | None:
    if not body.HasField("organization_info"):
        return None
    info = body.organization_info
    given = {name: _given(info.address if name in ADDRESS_FIELDS else info, name) for name in _ORGANIZATION_DETAILS}
    return OrganizationDetails(**given, sent_as=_ORGANIZATION_PATHS[body.DESCRIPTOR])


def upsert_command(body: struct_pb2.Struct) -> tuple[ContactDetails, OrganizationDetails | None]:
    """The body of POST /crm/contacts, read strictly as a ContactInput."""
    contact = read_message(body, crm_pb2.ContactInput)
    return _contact_details(contact, _CONTACT_PATHS), _organization_details(contact)


def registration_command(body: struct_pb2.Struct) -> tuple[EventDetails, ContactDetails, OrganizationDetails | None]:
    """The body of POST /crm/contacts/from-event, read strictly as an EventRegistrationInput."""
    registration = read_message(body, crm_pb2.EventRegistrationInput)
    event = EventDetails(registration.event_id, registration.event_name, registration.event_date, sent_as=_EVENT_PATHS)
    return (event, _contact_details(registration.attendee_info, _ATTENDEE_PATHS), _organization_details(registration))


# The Contact fields a PATCH may change, by the JSON name clients write them with.
_PATCHABLE = {
    crm_pb2.Contact.DESCRIPTOR.fields_by_name[f.name].json_name: f.name
    for f in dataclasses.fields(ContactChanges)
    if f.name != "given"
}


def contact_changes(body: struct_pb2.Struct) -> ContactChanges:
    """The body of PATCH /crm/contacts/{id}: the fields given, null meaning clear (Contact.apply
    checks the values; the servicer names its errors' fields by their JSON names)."""
    data = body_dict(body)
    unknown = sorted(set(data) - set(_PATCHABLE))
    if unknown:
        raise InvalidArgument(
            f"unknown field {shown(unknown[0])}; updatable fields are {', '.join(sorted(_PATCHABLE))}", field=unknown[0]
        )
    for key, value in data.items():
        if value is None:
            continue
        if key == "tags" and not isinstance(value, list):
            raise InvalidArgument("tags must be a list of strings", field=key)
        if key == "customFields" and not isinstance(value, dict):
            raise InvalidArgument("customFields must be an object", field=key)
        if key not in ("tags", "customFields") and not isinstance(value, str):
            raise InvalidArgument(f"{key} must be a string", field=key)
    return ContactChanges.of(**{_PATCHABLE[key]: value for key, value in data.items()})


def _upsert_message(result: UpsertResult) -> str:
    message = f"Contact {'created' if result.created else 'updated'} successfully"
    if result.organization_ignored:
        message += (
            "; organizationInfo was not applied: an existing contact keeps its CRM organization "
            "(change it with PATCH /api/v1/crm/contacts/{contactId})"
        )
    return message


def upsert_response(result: UpsertResult) -> crm_pb2.UpsertContactResponse:
    return crm_pb2.UpsertContactResponse(
        success=True,
        contact_id=result.contact.id,
        crm_organization_id=result.contact.crm_organization_id,
        is_new_contact=result.created,
        message=_upsert_message(result),
    )


def registration_response(result: UpsertResult, event: EventDetails) -> crm_pb2.CreateContactFromEventResponse:
    contact = result.contact
    return crm_pb2.CreateContactFromEventResponse(
        success=True,
        contact_id=contact.id,
        event_id=event.event_id,
        crm_organization_id=contact.crm_organization_id,
        organization_id=contact.organization_id,
        is_new_contact=result.created,
        message=_upsert_message(result),
    )


def contact_message(contact: Contact) -> crm_pb2.Contact:
    message = crm_pb2.Contact(
        id=contact.id,
        name=contact.name,
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        company=contact.company,
        job_title=contact.job_title,
        subtype=contact.subtype,
        status=contact.status,
        source=contact.source,
        source_ref=contact.source_ref,
        tags=contact.tags,
        notes=contact.notes,
        crm_organization_id=contact.crm_organization_id,
        events=[
            crm_pb2.EventRegistration(
                event_id=e.event_id, event_name=e.event_name, event_date=e.event_date, registered_at=e.registered_at
            )
            for e in contact.events
        ],
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        portal_access=contact.portal_access,
    )
    message.custom_fields.SetInParent()  # an empty object prints as {} rather than not at all
    message.custom_fields.update(contact.custom_fields)
    return message


def contact_view(contact: Contact) -> bytes:
    """A contact's read model, as the repository stores it beside the record (queries.py)."""
    return contact_message(contact).SerializeToString()


# What a portal user (the customer) may read of its own contact; notes, tags, customFields,
# source, sourceRef, subtype, events and the grant are the organization's internal data.
_CUSTOMER_FACING = (
    "id",
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "status",
    "crm_organization_id",
    "created_at",
    "updated_at",
)


def contact_from_view(view: bytes, customer_facing: bool) -> crm_pb2.Contact:
    contact = crm_pb2.Contact.FromString(view)
    if not customer_facing:
        return contact
    shown_fields = crm_pb2.Contact()
    for field in _CUSTOMER_FACING:
        if contact.HasField(field) if contact.DESCRIPTOR.fields_by_name[field].has_presence else True:
            setattr(shown_fields, field, getattr(contact, field))
    return shown_fields


_CONTACTS_FIELD = crm_pb2.ListContactsResponse.DESCRIPTOR.fields_by_name["contacts"].number


def contact_page_message(page: ContactPage, limit: int, offset: int) -> crm_pb2.ListContactsResponse:
    # The stored views become the repeated field as they are: parsing one message is much faster
    # than copying 50 into it (portal_common.wire).
    response = crm_pb2.ListContactsResponse.FromString(repeated_message_field(_CONTACTS_FIELD, page.views))
    response.total, response.limit, response.offset = page.total, limit, offset
    return response


def organization_message(organization: CrmOrganization) -> crm_pb2.Organization:
    return crm_pb2.Organization(
        id=organization.id,
        name=organization.name,
        website=organization.website,
        industry=organization.industry,
        tax_id=organization.tax_id,
        billing_email=organization.billing_email,
        phone=organization.phone,
        address=crm_pb2.Address(**{name: getattr(organization, name) for name in ADDRESS_FIELDS}),
        created_at=organization.created_at,
        updated_at=organization.updated_at,
    )


def event_object(record: Contact | CrmOrganization) -> dict:
    """A record as an event's `data.object`: what GET answers for it (portal_common.outbox)."""
    if isinstance(record, Contact):
        return message_object(contact_message(record))
    return message_object(organization_message(record))


def portal_access_message(access: PortalAccess) -> crm_pb2.PortalAccess:
    return crm_pb2.PortalAccess(
        contact_id=access.contact_id,
        status=access.status,
        crm_organization_id=access.crm_organization_id,
        portal_access=access.portal_access,
    )
