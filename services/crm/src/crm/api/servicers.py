from crm.adapters.views import ContactFilter
from crm.adapters.views import contact_message, organization_message
from crm.api.messages import contact_details, organization_details
from crm.service_layer.contacts import CrmService, EventDetails, UpsertResult
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.auth import current_principal
from portal_common.errors import http_status_metadata
from portal_common.json_body import body_dict, read_message
from portal_common.pagination import page_bounds


def _organization_id() -> str:
    return current_principal().organization_id


def _answer_created(context, created: bool) -> None:
    if created:
        context.send_initial_metadata((http_status_metadata(201),))


def _upsert_message(result: UpsertResult) -> str:
    message = f"Contact {'created' if result.created else 'updated'} successfully"
    if result.organization_ignored:
        message += ("; organizationInfo was not applied: an existing contact keeps its CRM organization "
                    "(change it with PATCH /api/v1/crm/contacts/{contactId})")
    return message


class CrmServicer(crm_pb2_grpc.CrmServiceServicer):
    def __init__(self, crm: CrmService):
        self._crm = crm

    def UpsertContact(self, request, context):
        contact = read_message(request.contact, crm_pb2.ContactInput)
        result = self._crm.upsert_contact(_organization_id(), contact_details(contact), organization_details(contact))
        _answer_created(context, result.created)
        return crm_pb2.UpsertContactResponse(
            success=True, contact_id=result.contact.id, crm_organization_id=result.contact.crm_organization_id,
            is_new_contact=result.created, message=_upsert_message(result))

    def CreateContactFromEvent(self, request, context):
        registration = read_message(request.registration, crm_pb2.EventRegistrationInput)
        event = EventDetails(registration.event_id, registration.event_name, registration.event_date)
        result = self._crm.register_attendee(_organization_id(), event, contact_details(registration.attendee_info),
                                             organization_details(registration))
        _answer_created(context, result.created)
        return crm_pb2.CreateContactFromEventResponse(
            success=True, contact_id=result.contact.id, event_id=event.event_id,
            crm_organization_id=result.contact.crm_organization_id, organization_id=_organization_id(),
            is_new_contact=result.created, message=_upsert_message(result))

    def ListContacts(self, request, context):
        limit, offset = page_bounds(request)
        where = ContactFilter(status=request.status, subtype=request.subtype, source=request.source,
                              search=request.search)
        return self._crm.list_contacts(_organization_id(), where, limit, offset)

    def GetContact(self, request, context):
        return self._crm.get_contact(current_principal(), request.contact_id)

    def UpdateContact(self, request, context):
        changes = body_dict(request.changes)
        return contact_message(self._crm.update_contact(_organization_id(), request.contact_id, changes))

    def DeleteContact(self, request, context):
        return contact_message(self._crm.archive_contact(_organization_id(), request.contact_id))

    def ListOrganizations(self, request, context):
        limit, offset = page_bounds(request)
        found, total = self._crm.list_crm_organizations(_organization_id(), request.industry, request.search,
                                                        limit, offset)
        return crm_pb2.ListOrganizationsResponse(organizations=[organization_message(o) for o in found],
                                                 total=total, limit=limit, offset=offset)

    def GetOrganization(self, request, context):
        return organization_message(self._crm.get_crm_organization(_organization_id(), request.crm_organization_id))

    def ListOrganizationContacts(self, request, context):
        limit, offset = page_bounds(request)
        where = ContactFilter(status=request.status, crm_organization_id=request.crm_organization_id)
        return self._crm.list_contacts(_organization_id(), where, limit, offset)

    def FindContactByEmail(self, request, context):
        return self._crm.find_contact_by_email(_organization_id(), request.email)


class CrmInternalServicer(crm_pb2_grpc.CrmInternalServiceServicer):
    def __init__(self, crm: CrmService):
        self._crm = crm

    def GetPortalAccess(self, request, context):
        contact = self._crm.portal_access(request.organization_id, request.contact_id)
        return crm_pb2.PortalAccess(contact_id=contact.id, status=contact.status,
                                    crm_organization_id=contact.crm_organization_id,
                                    portal_access=contact.portal_access)
