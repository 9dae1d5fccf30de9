"""The one module that knows both sides: auth.proto's messages and the auth domain."""

from auth.domain.portal_users import OAuthLogin, PortalUser, PortalUserChanges
from portal.auth.v1 import auth_pb2
from portal_common.auth import API_KEY, Principal
from portal_common.json_body import read_message

FRONTEND_USER = "frontend_user"  # the seed's `type` of a portal user


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
