"""The CRM service as the auth service sees it: who is the contact with this email?"""
import dataclasses

from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.channels import internal_channel
from portal_common.peers import ask


@dataclasses.dataclass(frozen=True)
class ContactLink:
    contact_id: str
    crm_organization_id: str | None


class CrmClient:
    def __init__(self, target: str, timeout_seconds: float):
        self._stub = crm_pb2_grpc.CrmServiceStub(internal_channel(target))
        self._timeout = timeout_seconds

    def find_contact(self, email: str, credential: str) -> ContactLink | None:
        """The active contact with `email` in the caller's organization; Unavailable if the CRM
        does not answer within the timeout."""
        contact = ask(self._stub.FindContactByEmail, crm_pb2.FindContactByEmailRequest(email=email),
                      credential, self._timeout, "CRM")
        if contact is None:
            return None
        return ContactLink(contact.id, contact.crm_organization_id if contact.HasField("crm_organization_id") else None)
