"""The CRM service as the projects service sees it: is this one of the caller's CRM organizations?"""

from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.channels import internal_channel
from portal_common.peers import ask


class CrmClient:
    def __init__(self, target: str, timeout_seconds: float):
        self._stub = crm_pb2_grpc.CrmServiceStub(internal_channel(target))
        self._timeout = timeout_seconds

    def has_organization(self, crm_organization_id: str, credential: str) -> bool:
        """Whether the CRM knows the organization for the caller; Unavailable if it does not answer
        within the timeout."""
        found = ask(
            self._stub.GetOrganization,
            crm_pb2.GetOrganizationRequest(crm_organization_id=crm_organization_id),
            credential,
            self._timeout,
            "CRM",
        )
        return found is not None
