"""The CRM's gRPC servicers: request -> command (api/mapping.py) -> use case or query -> response."""

from crm.api import mapping
from crm.queries import ContactFilter, CrmQueries
from crm.service_layer.contacts import CrmService
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.auth import current_principal
from portal_common.errors import http_status_metadata
from portal_common.json_body import client_paths
from portal_common.pagination import page_bounds


def _organization_id() -> str:
    return current_principal().organization_id


def _answer_created(context, created: bool) -> None:
    if created:
        context.send_initial_metadata((http_status_metadata(201),))


class CrmServicer(crm_pb2_grpc.CrmServiceServicer):
    def __init__(self, crm: CrmService, queries: CrmQueries):
        self._crm = crm
        self._queries = queries

    def UpsertContact(self, request, context):
        details, organization = mapping.upsert_command(request.contact)
        result = self._crm.upsert_contact(_organization_id(), details, organization)
        _answer_created(context, result.created)
        return mapping.upsert_response(result)

    def CreateContactFromEvent(self, request, context):
        event, details, organization = mapping.registration_command(request.registration)
        result = self._crm.register_attendee(_organization_id(), event, details, organization)
        _answer_created(context, result.created)
        return mapping.registration_response(result, event)

    def ListContacts(self, request, context):
        limit, offset = page_bounds(request)
        where = ContactFilter(
            status=request.status, subtype=request.subtype, source=request.source, search=request.search
        )
        return mapping.contact_page_message(
            self._queries.contact_page(_organization_id(), where, limit, offset), limit, offset
        )

    def GetContact(self, request, context):
        principal = current_principal()
        return mapping.contact_from_view(
            self._queries.contact_view(principal, request.contact_id), customer_facing=principal.is_portal_user
        )

    def UpdateContact(self, request, context):
        with client_paths(crm_pb2.Contact.DESCRIPTOR):
            changes = mapping.contact_changes(request.changes)
            contact = self._crm.update_contact(_organization_id(), request.contact_id, changes)
        return mapping.contact_message(contact)

    def DeleteContact(self, request, context):
        return mapping.contact_message(self._crm.archive_contact(_organization_id(), request.contact_id))

    def ListOrganizations(self, request, context):
        limit, offset = page_bounds(request)
        found, total = self._queries.crm_organizations(
            _organization_id(), request.industry, request.search, limit, offset
        )
        return crm_pb2.ListOrganizationsResponse(
            organizations=[mapping.organization_message(o) for o in found], total=total, limit=limit, offset=offset
        )

    def GetOrganization(self, request, context):
        return mapping.organization_message(
            self._queries.crm_organization(_organization_id(), request.crm_organization_id)
        )

    def ListOrganizationContacts(self, request, context):
        limit, offset = page_bounds(request)
        where = ContactFilter(status=request.status, crm_organization_id=request.crm_organization_id)
        return mapping.contact_page_message(
            self._queries.contact_page(_organization_id(), where, limit, offset), limit, offset
        )

    def FindContactByEmail(self, request, context):
        return mapping.contact_from_view(
            self._queries.contact_view_by_email(_organization_id(), request.email), customer_facing=False
        )


class CrmInternalServicer(crm_pb2_grpc.CrmInternalServiceServicer):
    def __init__(self, queries: CrmQueries):
        self._queries = queries

    def GetPortalAccess(self, request, context):
        return mapping.portal_access_message(self._queries.portal_access(request.organization_id, request.contact_id))
