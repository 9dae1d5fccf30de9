"""The CRM service as invoicing sees it: the contacts and CRM organizations that invoices bill.

Asked over gRPC with the caller's own credential, so the CRM answers only for the caller's
organization: another organization's id is "not found", exactly like an id that does not exist.
"""

from invoicing.domain.model import ADDRESS_FIELDS, Address
from invoicing.service_layer.invoices import CrmContact, CrmOrganization
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.channels import internal_channel
from portal_common.peers import ask


class CrmClient:
    def __init__(self, target: str, timeout_seconds: float):
        self._stub = crm_pb2_grpc.CrmServiceStub(internal_channel(target))
        self._timeout = timeout_seconds

    def contact(self, contact_id: str, credential: str) -> CrmContact | None:
        found = ask(
            self._stub.GetContact, crm_pb2.GetContactRequest(contact_id=contact_id), credential, self._timeout, "CRM"
        )
        if found is None:
            return None
        return CrmContact(
            found.id,
            found.name,
            found.email,
            found.crm_organization_id if found.HasField("crm_organization_id") else None,
        )

    def organization(self, crm_organization_id: str, credential: str) -> CrmOrganization | None:
        found = ask(
            self._stub.GetOrganization,
            crm_pb2.GetOrganizationRequest(crm_organization_id=crm_organization_id),
            credential,
            self._timeout,
            "CRM",
        )
        if found is None:
            return None
        address = Address(
            **{name: getattr(found.address, name) if found.address.HasField(name) else None for name in ADDRESS_FIELDS}
        )
        return CrmOrganization(
            found.id,
            found.name,
            found.billing_email if found.HasField("billing_email") else None,
            address,
            found.tax_id if found.HasField("tax_id") else None,
        )
