"""The one module that knows both sides: auth.proto's messages and the auth domain."""

import dataclasses

from auth.domain.accounts import Organization, ProfileChanges
from auth.domain.portal_users import OAuthLogin, PortalUser, PortalUserChanges
from portal.auth.v1 import auth_pb2
from portal_common.auth import API_KEY, Principal
from portal_common.event_json import message_object
from portal_common.json_body import body_dict, read_message

FRONTEND_USER = "frontend_user"  # the seed's `type` of a portal user
# The attribute each JSON name of a profile change stands for.
_PROFILE_NAMES = {field.json_name: field.name for field in auth_pb2.OrganizationChanges.DESCRIPTOR.fields}
_ADDRESS_NAMES = {field.json_name: field.name for field in auth_pb2.OrganizationAddress.DESCRIPTOR.fields}


def oauth_login(request: auth_pb2.SyncUserRequest) -> OAuthLogin:
    given = read_message(request.user, auth_pb2.SyncUserInput)
    return OAuthLogin(email=given.email, name=given.name, oauth_provider=given.oauth_provider, oauth_id=given.oauth_id)


def portal_user_changes(request: auth_pb2.UpdatePortalUserRequest) -> PortalUserChanges:
    return PortalUserChanges(status=read_message(request.changes, auth_pb2.PortalUserChanges).status)


def principal_message(principal: Principal) -> auth_pb2.Principal:
    kind = auth_pb2.Principal.KIND_API_KEY if principal.kind == API_KEY else auth_pb2.Principal.KIND_PORTAL_USER
    return auth_pb2.Principal(
        kind=kind,
        organization_id=principal.organization_id,
        credential_id=principal.credential_id,
        portal_user_id=principal.portal_user_id,
        crm_contact_id=principal.crm_contact_id,
        crm_organization_id=principal.crm_organization_id,
        expires_at=principal.expires_at,
    )


def _user_fields(user: PortalUser) -> dict:
    return dict(
        id=user.id,
        organization_id=user.organization_id,
        type=FRONTEND_USER,
        name=user.email,
        status=user.status,
        created_at=user.created_at,
        updated_at=user.updated_at,
        custom_properties=auth_pb2.FrontendUserProperties(
            oauth_provider=user.oauth_provider,
            oauth_id=user.oauth_id,
            display_name=user.display_name,
            last_login=user.last_login,
            crm_contact_id=user.crm_contact_id,
            crm_organization_id=user.crm_organization_id,
        ),
    )


def frontend_user(user: PortalUser) -> auth_pb2.FrontendUser:
    return auth_pb2.FrontendUser(**_user_fields(user))


def event_object(user: PortalUser) -> dict:
    """A portal user as an event's `data.object`: what GET /portal-users/{id} answers for it."""
    return message_object(frontend_user(user))


def sync_user_response(user: PortalUser, session_token: str, expires_at: int) -> auth_pb2.SyncUserResponse:
    return auth_pb2.SyncUserResponse(**_user_fields(user), session_token=session_token, expires_at=expires_at)


def crm_context(user: PortalUser) -> auth_pb2.CrmContext:
    return auth_pb2.CrmContext(contact_id=user.crm_contact_id, organization_id=user.crm_organization_id)


def current_user(user: PortalUser) -> auth_pb2.CurrentUser:
    return auth_pb2.CurrentUser(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        oauth_provider=user.oauth_provider,
        crm_context=crm_context(user),
    )


def profile_changes(request: auth_pb2.UpdateOrganizationRequest) -> ProfileChanges:
    """The body of PATCH /organization: read strictly as OrganizationChanges (an unknown field or a
    wrong type is a 400 naming its JSON path), then every field the client named, null included
    (which clears it)."""
    data = body_dict(request.changes)
    message = read_message(data, auth_pb2.OrganizationChanges)
    values: dict[str, str | None] = {}
    for key, value in data.items():
        name = _PROFILE_NAMES[key]
        if name != "address":
            values[name] = None if value is None else getattr(message, name)
        elif value is None:
            values[name] = None
        else:
            for address_key, address_value in value.items():
                part = _ADDRESS_NAMES[address_key]
                values[f"address.{part}"] = None if address_value is None else getattr(message.address, part)
    return ProfileChanges(values)


def organization_message(organization: Organization) -> auth_pb2.Organization:
    return auth_pb2.Organization(
        id=organization.id,
        name=organization.name,
        legal_name=organization.legal_name,
        email=organization.email,
        phone=organization.phone,
        website=organization.website,
        tax_id=organization.tax_id,
        address=auth_pb2.OrganizationAddress(**dataclasses.asdict(organization.address)),
        created_at=organization.created_at,
        updated_at=organization.updated_at,
    )
