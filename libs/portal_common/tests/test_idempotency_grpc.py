"""The idempotency interceptor on a real gRPC server (the CRM's, with a real auth service behind it),
as native gRPC callers see it: the header is `idempotency-key` metadata, the replay comes with the
first answer's initial metadata (the gateway's HTTP status) and `idempotent-replayed: true`."""

import grpc
import pytest
from google.protobuf import json_format

from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info


def upsert(**body) -> crm_pb2.UpsertContactRequest:
    return json_format.ParseDict({"contact": body}, crm_pb2.UpsertContactRequest())


@pytest.fixture(scope="module")
def servers(grpc_peers):
    return grpc_peers.accounts, crm_pb2_grpc.CrmServiceStub(grpc.insecure_channel(grpc_peers.crm_target))


def _keyed(api_key: str, key: str):
    return (*bearer(api_key), ("idempotency-key", key))


def test_a_replay_answers_the_first_reply_and_metadata_without_running_again(servers):
    accounts, stub = servers
    _, api_key = accounts.create_organization("Acme")
    request = upsert(email="jo@x.io", firstName="Jo")
    first, call = stub.UpsertContact.with_call(request, metadata=_keyed(api_key, "k-1"))
    assert first.is_new_contact and dict(call.initial_metadata())["x-portal-http-status"] == "201"
    assert "idempotent-replayed" not in dict(call.initial_metadata())
    contact = stub.GetContact(crm_pb2.GetContactRequest(contact_id=first.contact_id), metadata=bearer(api_key))

    again, call = stub.UpsertContact.with_call(request, metadata=_keyed(api_key, "k-1"))
    metadata = dict(call.initial_metadata())
    assert again.SerializeToString() == first.SerializeToString() and again.is_new_contact
    assert (metadata["x-portal-http-status"], metadata["idempotent-replayed"]) == ("201", "true")
    assert stub.GetContact(crm_pb2.GetContactRequest(contact_id=first.contact_id), metadata=bearer(api_key)) == contact

    # Without the key the same request runs: an update (200), as the upsert does.
    _, call = stub.UpsertContact.with_call(request, metadata=bearer(api_key))
    assert "x-portal-http-status" not in dict(call.initial_metadata())


def test_another_request_under_a_used_key_is_failed_precondition_with_the_rest_status_422(servers):
    accounts, stub = servers
    _, api_key = accounts.create_organization("Acme")
    stub.UpsertContact(upsert(email="jo@x.io"), metadata=_keyed(api_key, "k-1"))
    with pytest.raises(grpc.RpcError) as refused:
        stub.UpsertContact(upsert(email="other@x.io"), metadata=_keyed(api_key, "k-1"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "IDEMPOTENCY_KEY_REUSED"
    assert dict(refused.value.trailing_metadata())["x-portal-http-status"] == "422"


def test_a_refused_request_leaves_its_key_free_and_a_bad_key_is_invalid(servers):
    accounts, stub = servers
    _, api_key = accounts.create_organization("Acme")
    with pytest.raises(grpc.RpcError) as invalid:
        stub.UpsertContact(upsert(email="nope"), metadata=_keyed(api_key, "k-1"))
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reply = stub.UpsertContact(upsert(email="jo@x.io"), metadata=_keyed(api_key, "k-1"))
    assert reply.is_new_contact
    with pytest.raises(grpc.RpcError) as bad_key:
        stub.UpsertContact(upsert(email="jo@x.io"), metadata=_keyed(api_key, "k" * 256))
    assert bad_key.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(bad_key.value).reason == "INVALID_IDEMPOTENCY_KEY"


def test_a_read_ignores_the_key(servers):
    accounts, stub = servers
    _, api_key = accounts.create_organization("Acme")
    created = stub.UpsertContact(upsert(email="jo@x.io"), metadata=bearer(api_key))
    request = crm_pb2.GetContactRequest(contact_id=created.contact_id)
    _, call = stub.GetContact.with_call(request, metadata=_keyed(api_key, "k" * 256))  # not even checked
    assert "idempotent-replayed" not in dict(call.initial_metadata())
