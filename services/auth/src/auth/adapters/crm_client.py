"""The CRM service as the auth service sees it: who is the contact with this email?"""
import dataclasses

import grpc

from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.channels import internal_channel
from portal_common.errors import Unavailable


@dataclasses.dataclass(frozen=True)
class ContactLink:
    contact_id: str
    crm_organization_id: str | None


class CrmClient:
    def __init__(self, target: str, timeout_seconds: float):
        self._stub = crm_pb2_grpc.CrmServiceStub(internal_channel(target))
        self._timeout = timeout_seconds

    def find_contact(self, email: str, credential: str) -> ContactLink | None:
        """The active contact with `email`, asked with the caller's own credential (so the CRM
        scopes the question to the caller's organization); Unavailable if the CRM does not answer
        within the timeout."""
        try:
            contact = self._stub.FindContactByEmail(crm_pb2.FindContactByEmailRequest(email=email),
                                                    metadata=[("authorization", f"Bearer {credential}")],
                                                    timeout=self._timeout, wait_for_ready=True)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(f"the CRM service did not answer: {error.code().name}") from None
        return ContactLink(contact.id, contact.crm_organization_id if contact.HasField("crm_organization_id") else None)
