"""The auth service's gRPC API and the credential cache the other services put in front of it."""
import time

import grpc
import pytest

from auth.config import Settings
from auth.server import build, open_accounts
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.auth import ApiKeyResolver, hash_api_key
from portal_common.errors import Unavailable


@pytest.fixture
def auth_server(databases):
    settings = Settings(database_url=databases.new_url("auth"), address="127.0.0.1:0")
    server, port = build(settings, settings.address)
    server.start()
    yield open_accounts(settings), f"127.0.0.1:{port}"
    server.stop(None)


def test_resolve_answers_not_found_for_unknown_and_revoked_keys(auth_server):
    accounts, target = auth_server
    organization_id, secret = accounts.create_organization("Acme")
    stub = auth_pb2_grpc.ApiKeyServiceStub(grpc.insecure_channel(target))
    reply = stub.ResolveApiKey(auth_pb2.ResolveApiKeyRequest(key_hash=hash_api_key(secret)))
    assert reply.organization_id == organization_id
    accounts.revoke_api_key(reply.key_id)
    with pytest.raises(grpc.RpcError) as raised:
        stub.ResolveApiKey(auth_pb2.ResolveApiKeyRequest(key_hash=hash_api_key(secret)))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_cache_serves_a_revoked_key_only_until_its_ttl(auth_server):
    accounts, target = auth_server
    organization_id, secret = accounts.create_organization("Acme")
    resolver = ApiKeyResolver(target, ttl_seconds=0.5)
    assert resolver.resolve(hash_api_key(secret)).organization_id == organization_id
    accounts.revoke_api_key(accounts.list_api_keys(organization_id)[0]["id"])
    assert resolver.resolve(hash_api_key(secret)) is not None  # still cached
    time.sleep(0.6)
    assert resolver.resolve(hash_api_key(secret)) is None


def test_an_unreachable_auth_service_is_unavailable_not_unauthenticated():
    with pytest.raises(Unavailable):
        ApiKeyResolver("127.0.0.1:1").resolve(hash_api_key("pk_whatever"))
