from auth.api import messages
from auth.service_layer.credentials import Credentials
from auth.service_layer.portal_users import PortalUsers
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.auth import current_principal
from portal_common.errors import NotFound, http_status_metadata
from portal_common.peers import caller_credential


class CredentialServicer(auth_pb2_grpc.CredentialServiceServicer):
    def __init__(self, credentials: Credentials):
        self._credentials = credentials

    def ResolveCredential(self, request, context):
        principal = self._credentials.resolve(request.credential_hash)
        if principal is None:
            raise NotFound("unknown, revoked or expired credential")
        return messages.principal_message(principal)


class PortalAuthServicer(auth_pb2_grpc.PortalAuthServiceServicer):
    def __init__(self, portal_users: PortalUsers):
        self._portal_users = portal_users

    def SyncUser(self, request, context):
        sign_in = self._portal_users.sync_user(
            current_principal().organization_id, caller_credential(context), request.email, request.name,
            request.oauth_provider, request.oauth_id)
        if sign_in.created:
            context.send_initial_metadata((http_status_metadata(201),))
        return messages.sync_user_response(sign_in.user, sign_in.session_token, sign_in.expires_at)

    def ValidateToken(self, request, context):
        user = self._portal_users.current_user(current_principal())
        return auth_pb2.ValidateTokenResponse(valid=True, user=messages.frontend_user(user),
                                              crm_context=messages.crm_context(user))

    def GetCurrentUser(self, request, context):
        return messages.current_user(self._portal_users.current_user(current_principal()))

    def Logout(self, request, context):
        self._portal_users.logout(current_principal())
        return auth_pb2.LogoutResponse(success=True)
