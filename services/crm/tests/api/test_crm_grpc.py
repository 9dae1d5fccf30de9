"""The CRM service over real gRPC, as internal callers use it, with a real auth service behind it."""

import grpc
import pytest
from google.protobuf import struct_pb2

from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info


def upsert(**body) -> crm_pb2.UpsertContactRequest:
    """gRPC callers send the same JSON object as REST clients, as a Struct."""
    contact = struct_pb2.Struct()
    contact.update(body)
    return crm_pb2.UpsertContactRequest(contact=contact)


@pytest.fixture(scope="module")
def servers(grpc_peers):
    yield grpc_peers.accounts, crm_pb2_grpc.CrmServiceStub(grpc.insecure_channel(grpc_peers.crm_target))


def test_create_answers_201_metadata_then_updates(servers):
    accounts, stub = servers
    _, key = accounts.create_organization("Acme")
    request = upsert(email="jo@x.io", firstName="Jo", tags=["a"])
    reply, call = stub.UpsertContact.with_call(request, metadata=bearer(key))
    assert reply.is_new_contact and ("x-portal-http-status", "201") in call.initial_metadata()
    reply, call = stub.UpsertContact.with_call(request, metadata=bearer(key))
    assert not reply.is_new_contact
    assert "x-portal-http-status" not in dict(call.initial_metadata())
    contact = stub.GetContact(crm_pb2.GetContactRequest(contact_id=reply.contact_id), metadata=bearer(key))
    assert (contact.email, contact.name, list(contact.tags)) == ("jo@x.io", "Jo", ["a"])


def test_errors_carry_error_info_and_the_rest_shape(servers):
    accounts, stub = servers
    _, key = accounts.create_organization("Acme")
    with pytest.raises(grpc.RpcError) as raised:
        stub.UpsertContact(upsert(email="nope"), metadata=bearer(key))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(raised.value)
    assert (info.reason, info.metadata["field"]) == ("INVALID_ARGUMENT", "email")
    trailers = dict(raised.value.trailing_metadata())
    assert trailers["x-portal-http-status"] == "400" and '"field": "email"' in trailers["x-portal-error"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "a@x.io", "firstNme": "Jo"}, "firstNme"),
        (
            {"email": "a@x.io", "organizationInfo": {"name": "Acme", "address": {"zip": "1"}}},
            "organizationInfo.address.zip",
        ),
        ({"email": "a@x.io", "tags": ["a", 1]}, "tags[1]"),
        ({"email": "a@x.io", "customFields": {"n": 2.0**53}}, "customFields.n"),
    ],
)
def test_grpc_bodies_are_read_as_strictly_as_rest_ones(servers, body, field):
    accounts, stub = servers
    _, key = accounts.create_organization("Acme")
    with pytest.raises(grpc.RpcError) as raised:
        stub.UpsertContact(upsert(**body), metadata=bearer(key))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == field


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        [("authorization", "Basic abc")],
        [("authorization", "Bearer pk_x")],
        [("authorization", "Bearer pk_" + "a" * 43)],
    ],
)
def test_calls_without_a_valid_key_are_unauthenticated(servers, metadata):
    _, stub = servers
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListContacts(crm_pb2.ListContactsRequest(), metadata=metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_another_organizations_contact_is_not_found(servers):
    accounts, stub = servers
    _, key_a = accounts.create_organization("A")
    _, key_b = accounts.create_organization("B")
    created = stub.UpsertContact(upsert(email="a@x.io"), metadata=bearer(key_a))
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetContact(crm_pb2.GetContactRequest(contact_id=created.contact_id), metadata=bearer(key_b))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert stub.ListContacts(crm_pb2.ListContactsRequest(), metadata=bearer(key_b)).total == 0


@pytest.mark.parametrize("limit", [0, 201, -1])
def test_limits_out_of_range_are_invalid(servers, limit):
    accounts, stub = servers
    _, key = accounts.create_organization("Acme")
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListContacts(crm_pb2.ListContactsRequest(limit=limit), metadata=bearer(key))
    assert error_info(raised.value).metadata["field"] == "limit"
