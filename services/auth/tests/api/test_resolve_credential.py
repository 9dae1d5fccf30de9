"""The auth service's internal gRPC API and the credential cache the other services put before it."""

import time

import grpc
import pytest

from auth.config import Settings
from auth.server import build, open_accounts
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.auth import INTERNAL_TOKEN_HEADER, CredentialCache, hash_credential, remote_lookup
from portal_common.domain_errors import Unavailable

TOKEN = "internal-secret"


@pytest.fixture
def auth_server(databases):
    settings = Settings(
        database_url=databases.new_url("auth"), address="127.0.0.1:0", crm_target="127.0.0.1:1", internal_token=TOKEN
    )
    server, port = build(settings, settings.address)
    server.start()
    yield open_accounts(settings), f"127.0.0.1:{port}"
    server.stop(None)


def test_resolve_answers_not_found_for_unknown_and_revoked_keys(auth_server):
    accounts, target = auth_server
    organization_id, secret = accounts.create_organization("Acme")
    stub = auth_pb2_grpc.CredentialServiceStub(grpc.insecure_channel(target))
    request = auth_pb2.ResolveCredentialRequest(credential_hash=hash_credential(secret))
    internal = ((INTERNAL_TOKEN_HEADER, TOKEN),)
    reply = stub.ResolveCredential(request, metadata=internal)
    assert (reply.kind, reply.organization_id) == (auth_pb2.Principal.KIND_API_KEY, organization_id)
    accounts.revoke_api_key(reply.credential_id)
    with pytest.raises(grpc.RpcError) as raised:
        stub.ResolveCredential(request, metadata=internal)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("metadata", [(), ((INTERNAL_TOKEN_HEADER, "guess"),), ((INTERNAL_TOKEN_HEADER, ""),)])
def test_resolve_answers_only_callers_with_the_internal_credential(auth_server, metadata):
    accounts, target = auth_server
    _, secret = accounts.create_organization("Acme")
    stub = auth_pb2_grpc.CredentialServiceStub(grpc.insecure_channel(target))
    with pytest.raises(grpc.RpcError) as raised:
        stub.ResolveCredential(
            auth_pb2.ResolveCredentialRequest(credential_hash=hash_credential(secret)), metadata=metadata
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_an_auth_service_without_an_internal_credential_does_not_start(databases):
    settings = Settings(database_url=databases.new_url("auth"), address="127.0.0.1:0", crm_target="127.0.0.1:1")
    with pytest.raises(SystemExit):
        build(settings, settings.address)


def test_the_cache_serves_a_revoked_key_only_until_its_ttl(auth_server):
    accounts, target = auth_server
    organization_id, secret = accounts.create_organization("Acme")
    cache = CredentialCache(remote_lookup(target, TOKEN), ttl_seconds=0.5)
    assert cache.resolve(hash_credential(secret)).organization_id == organization_id
    accounts.revoke_api_key(accounts.list_api_keys(organization_id)[0].id)
    assert cache.resolve(hash_credential(secret)) is not None  # still cached
    time.sleep(0.6)
    assert cache.resolve(hash_credential(secret)) is None


def test_an_unreachable_auth_service_is_unavailable_not_unauthenticated():
    with pytest.raises(Unavailable):
        CredentialCache(remote_lookup("127.0.0.1:1", TOKEN)).resolve(hash_credential("pk_whatever"))
