from auth.service_layer.accounts import Accounts
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.errors import NotFound


class ApiKeyServicer(auth_pb2_grpc.ApiKeyServiceServicer):
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    def ResolveApiKey(self, request, context):
        resolved = self._accounts.resolve_api_key(request.key_hash)
        if resolved is None:
            raise NotFound("unknown or revoked API key")
        organization_id, key_id = resolved
        return auth_pb2.ResolveApiKeyResponse(organization_id=organization_id, key_id=key_id)
