"""The organization's profile over gRPC: the public methods take the organization's API key and
answer for its own organization; the internal one answers any organization's profile, to internal
callers only."""

import grpc
import pytest
from google.protobuf import struct_pb2

from auth.config import Settings
from auth.server import build, open_accounts
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.auth import INTERNAL_TOKEN_HEADER

TOKEN = "internal-secret"


@pytest.fixture
def auth_server(databases):
    settings = Settings(
        database_url=databases.new_url("auth"), address="127.0.0.1:0", crm_target="127.0.0.1:1", internal_token=TOKEN
    )
    server, port = build(settings, settings.address)
    server.start()
    yield open_accounts(settings), grpc.insecure_channel(f"127.0.0.1:{port}")
    server.stop(None)


def changes(**values) -> struct_pb2.Struct:
    body = struct_pb2.Struct()
    body.update(values)
    return body


def test_an_api_key_reads_and_changes_its_own_organization(auth_server):
    accounts, channel = auth_server
    organization_id, key = accounts.create_organization("Acme")
    other_id, _ = accounts.create_organization("Other")
    stub = auth_pb2_grpc.OrganizationServiceStub(channel)
    bearer = (("authorization", f"Bearer {key}"),)
    assert stub.GetOrganization(auth_pb2.GetOrganizationRequest(), metadata=bearer).name == "Acme"
    changed = stub.UpdateOrganization(
        auth_pb2.UpdateOrganizationRequest(changes=changes(taxId="DE1", address={"postalCode": "10115"})),
        metadata=bearer,
    )
    assert (changed.id, changed.tax_id, changed.address.postal_code) == (organization_id, "DE1", "10115")
    assert accounts.organization(other_id).tax_id is None
    with pytest.raises(grpc.RpcError) as raised:
        stub.UpdateOrganization(
            auth_pb2.UpdateOrganizationRequest(changes=changes(address={"zip": "1"})), metadata=bearer
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "address.zip" in raised.value.details()


def test_the_internal_profile_answers_only_internal_callers(auth_server):
    accounts, channel = auth_server
    organization_id, key = accounts.create_organization("Acme")
    stub = auth_pb2_grpc.OrganizationInternalServiceStub(channel)
    request = auth_pb2.GetOrganizationProfileRequest(organization_id=organization_id)
    assert stub.GetOrganizationProfile(request, metadata=((INTERNAL_TOKEN_HEADER, TOKEN),)).name == "Acme"
    for metadata in [(), ((INTERNAL_TOKEN_HEADER, "guess"),), (("authorization", f"Bearer {key}"),)]:
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetOrganizationProfile(request, metadata=metadata)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetOrganizationProfile(
            auth_pb2.GetOrganizationProfileRequest(organization_id="org_missing"),
            metadata=((INTERNAL_TOKEN_HEADER, TOKEN),),
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
