"""The auth service as invoicing sees it: the profile of the organization that issues invoices.

Asked with the services' internal credential (OrganizationInternalService): the profile is read by
the id of the caller's own organization, whichever credential the caller holds (the public route
takes only API keys).
"""

from invoicing.domain.model import ADDRESS_FIELDS, Address, Issuer
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.channels import internal_channel
from portal_common.domain_errors import NotFound
from portal_common.peers import ask_internal


def _given(message, name: str) -> str | None:
    return getattr(message, name) if message.HasField(name) else None


class AuthClient:
    def __init__(self, target: str, timeout_seconds: float, internal_token: str):
        self._stub = auth_pb2_grpc.OrganizationInternalServiceStub(internal_channel(target))
        self._timeout = timeout_seconds
        self._token = internal_token

    def issuer(self, organization_id: str) -> Issuer:
        found = ask_internal(
            self._stub.GetOrganizationProfile,
            auth_pb2.GetOrganizationProfileRequest(organization_id=organization_id),
            self._token,
            self._timeout,
            "auth",
        )
        if found is None:
            raise NotFound(f"organization {organization_id} not found")
        return Issuer(
            name=found.name,
            email=_given(found, "email"),
            address=Address(**{name: _given(found.address, name) for name in ADDRESS_FIELDS}),
            tax_id=_given(found, "tax_id"),
            legal_name=_given(found, "legal_name"),
            phone=_given(found, "phone"),
            website=_given(found, "website"),
        )
