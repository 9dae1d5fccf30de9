"""The CRM service as the auth service sees it: who is the contact with this email, and what may
its portal user see now?"""

from auth.domain.portal_users import ContactAccess, ContactLink
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.channels import internal_channel
from portal_common.peers import ask, ask_internal

ORGANIZATION_ACCESS = "organization"


class CrmClient:
    def __init__(self, target: str, timeout_seconds: float, internal_token: str):
        channel = internal_channel(target)
        self._stub = crm_pb2_grpc.CrmServiceStub(channel)
        self._internal = crm_pb2_grpc.CrmInternalServiceStub(channel)
        self._timeout = timeout_seconds
        self._internal_token = internal_token

    def find_contact(self, email: str, credential: str) -> ContactLink | None:
        """The contact with `email` in the caller's organization, archived or not; Unavailable if
        the CRM does not answer within the timeout."""
        contact = ask(
            self._stub.FindContactByEmail,
            crm_pb2.FindContactByEmailRequest(email=email),
            credential,
            self._timeout,
            "CRM",
        )
        if contact is None:
            return None
        return ContactLink(
            contact.id,
            contact.crm_organization_id if contact.HasField("crm_organization_id") else None,
            active=contact.status == "active",
        )

    def contact_access(self, organization_id: str, contact_id: str) -> ContactAccess | None:
        """What the contact's portal user may see now; None if the organization has no such contact."""
        access = ask_internal(
            self._internal.GetPortalAccess,
            crm_pb2.GetPortalAccessRequest(organization_id=organization_id, contact_id=contact_id),
            self._internal_token,
            self._timeout,
            "CRM",
        )
        if access is None:
            return None
        return ContactAccess(
            active=access.status == "active",
            crm_organization_id=access.crm_organization_id,
            organization_access=access.portal_access == ORGANIZATION_ACCESS,
        )
