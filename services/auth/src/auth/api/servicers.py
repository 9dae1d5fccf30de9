"""The auth service's gRPC methods: request → domain command → use case → domain result → response."""

from auth.api import mapping
from auth.service_layer.accounts import Accounts
from auth.service_layer.credentials import Credentials
from auth.service_layer.portal_users import PortalUsers
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.auth import current_principal
from portal_common.domain_errors import NotFound
from portal_common.errors import http_status_metadata
from portal_common.json_body import client_paths, no_fields
from portal_common.pagination import page_bounds
from portal_common.peers import caller_credential


class CredentialServicer(auth_pb2_grpc.CredentialServiceServicer):
    def __init__(self, credentials: Credentials):
        self._credentials = credentials

    def ResolveCredential(self, request, context):
        principal = self._credentials.resolve(request.credential_hash)
        if principal is None:
            raise NotFound("unknown, revoked or expired credential")
        return mapping.principal_message(principal)


class PortalAuthServicer(auth_pb2_grpc.PortalAuthServiceServicer):
    def __init__(self, portal_users: PortalUsers):
        self._portal_users = portal_users

    def SyncUser(self, request, context):
        with client_paths(auth_pb2.SyncUserInput.DESCRIPTOR):
            sign_in = self._portal_users.sync_user(
                current_principal(), caller_credential(context), mapping.oauth_login(request)
            )
        if sign_in.created:
            context.send_initial_metadata((http_status_metadata(201),))
        return mapping.sync_user_response(sign_in.user, sign_in.session_token, sign_in.expires_at)

    def ValidateToken(self, request, context):
        no_fields(request.body, "validate-token")
        user = self._portal_users.current_user(current_principal())
        return auth_pb2.ValidateTokenResponse(
            valid=True, user=mapping.frontend_user(user), crm_context=mapping.crm_context(user)
        )

    def GetCurrentUser(self, request, context):
        return mapping.current_user(self._portal_users.current_user(current_principal()))

    def Logout(self, request, context):
        no_fields(request.body, "logout")
        self._portal_users.logout(current_principal())
        return auth_pb2.LogoutResponse(success=True)

    def ListPortalUsers(self, request, context):
        limit, offset = page_bounds(request)
        users, total = self._portal_users.list_users(current_principal().organization_id, request.status, limit, offset)
        return auth_pb2.ListPortalUsersResponse(
            portal_users=[mapping.frontend_user(user) for user in users], total=total, limit=limit, offset=offset
        )

    def GetPortalUser(self, request, context):
        return mapping.frontend_user(
            self._portal_users.get_user(current_principal().organization_id, request.portal_user_id)
        )

    def UpdatePortalUser(self, request, context):
        with client_paths(auth_pb2.PortalUserChanges.DESCRIPTOR):
            user = self._portal_users.update_user(
                current_principal().organization_id, request.portal_user_id, mapping.portal_user_changes(request)
            )
        return mapping.frontend_user(user)

    def EndPortalUserSessions(self, request, context):
        no_fields(request.body, "end-sessions")
        ended = self._portal_users.end_sessions(current_principal().organization_id, request.portal_user_id)
        return auth_pb2.EndPortalUserSessionsResponse(ended_sessions=ended)


class OrganizationServicer(auth_pb2_grpc.OrganizationServiceServicer):
    """The caller's own organization (API keys only: see server.py)."""

    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    def GetOrganization(self, request, context):
        return mapping.organization_message(self._accounts.organization(current_principal().organization_id))

    def UpdateOrganization(self, request, context):
        with client_paths(auth_pb2.OrganizationChanges.DESCRIPTOR):
            organization = self._accounts.update_organization(
                current_principal().organization_id, mapping.profile_changes(request)
            )
        return mapping.organization_message(organization)


class OrganizationInternalServicer(auth_pb2_grpc.OrganizationInternalServiceServicer):
    """Any organization's profile, for the other services (the internal credential only)."""

    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    def GetOrganizationProfile(self, request, context):
        return mapping.organization_message(self._accounts.organization(request.organization_id))
