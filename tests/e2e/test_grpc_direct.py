"""Internal callers: the same behaviour over gRPC, straight to the CRM service's port."""

import grpc
import pytest
from crm_rest import CONTACTS, DOCUMENTED_CONTACT, fake_id, get_contact, unique_email
from google.protobuf import json_format, struct_pb2

from portal.crm.v1 import crm_pb2, crm_pb2_grpc


@pytest.fixture(scope="module")
def crm_stub(stack):
    with grpc.insecure_channel(f"127.0.0.1:{stack.config.service_ports['crm']}") as channel:
        yield crm_pb2_grpc.CrmServiceStub(channel)


def bearer(api) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {api.key}")]


def upsert(body: dict) -> crm_pb2.UpsertContactRequest:
    """A gRPC caller sends the same JSON object as a REST client, as a Struct."""
    contact = struct_pb2.Struct()
    contact.update(body)
    return crm_pb2.UpsertContactRequest(contact=contact)


def refused(call, request, metadata) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=10)
    return caught.value.code()


def test_get_contact_gives_what_rest_gives(org_api, crm_stub):
    contact_id = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()["contactId"]

    message = crm_stub.GetContact(
        crm_pb2.GetContactRequest(contact_id=contact_id), metadata=bearer(org_api), timeout=10
    )

    as_json = json_format.MessageToDict(message)
    rest = get_contact(org_api, contact_id)
    assert as_json["id"] == contact_id
    for key in (
        "email",
        "firstName",
        "lastName",
        "subtype",
        "status",
        "tags",
        "customFields",
        "crmOrganizationId",
        "createdAt",
        "updatedAt",
    ):
        assert as_json[key] == rest[key], key


def test_upsert_and_list_over_grpc_are_seen_over_rest(org_api, crm_stub):
    email = unique_email()
    request = upsert({"email": email, "firstName": "Grace", "subtype": "customer", "tags": ["grpc"]})

    created = crm_stub.UpsertContact(request, metadata=bearer(org_api), timeout=10)
    again = crm_stub.UpsertContact(upsert({"email": email.upper()}), metadata=bearer(org_api), timeout=10)

    assert created.success and created.is_new_contact
    assert again.contact_id == created.contact_id and not again.is_new_contact
    assert get_contact(org_api, created.contact_id)["firstName"] == "Grace"
    page = crm_stub.ListContacts(crm_pb2.ListContactsRequest(subtype="customer"), metadata=bearer(org_api), timeout=10)
    assert [c.id for c in page.contacts] == [created.contact_id]
    assert (page.total, page.limit, page.offset) == (1, 50, 0)


def test_missing_malformed_or_unknown_keys_are_unauthenticated(crm_stub):
    request = crm_pb2.ListContactsRequest()
    for metadata in (
        [],
        [("authorization", "Basic x")],
        [("authorization", "Bearer")],
        [("authorization", "Bearer pk_" + "A" * 43)],
    ):
        assert refused(crm_stub.ListContacts, request, metadata) == grpc.StatusCode.UNAUTHENTICATED, metadata


def test_another_organizations_ids_are_not_found(org_api, other_api, crm_stub):
    created = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()
    b = bearer(other_api)

    for call, request in [
        (crm_stub.GetContact, crm_pb2.GetContactRequest(contact_id=created["contactId"])),
        (crm_stub.DeleteContact, crm_pb2.DeleteContactRequest(contact_id=created["contactId"])),
        (crm_stub.UpdateContact, crm_pb2.UpdateContactRequest(contact_id=created["contactId"])),
        (crm_stub.GetOrganization, crm_pb2.GetOrganizationRequest(crm_organization_id=created["crmOrganizationId"])),
        (
            crm_stub.ListOrganizationContacts,
            crm_pb2.ListOrganizationContactsRequest(crm_organization_id=created["crmOrganizationId"]),
        ),
        (crm_stub.GetContact, crm_pb2.GetContactRequest(contact_id=fake_id("ct"))),
    ]:
        assert refused(call, request, b) == grpc.StatusCode.NOT_FOUND, request
    assert crm_stub.ListContacts(crm_pb2.ListContactsRequest(search="john"), metadata=b, timeout=10).total == 0
    assert get_contact(org_api, created["contactId"])["status"] == "active"


def test_invalid_input_is_invalid_argument(shared_api, crm_stub):
    with pytest.raises(grpc.RpcError) as caught:
        crm_stub.UpsertContact(upsert({"email": "not-an-email"}), metadata=bearer(shared_api), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "email" in caught.value.details()
    with pytest.raises(grpc.RpcError) as unknown:
        crm_stub.UpsertContact(
            upsert({"email": unique_email(), "first_name": "Snake"}), metadata=bearer(shared_api), timeout=10
        )
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown field first_name" in unknown.value.details()
    assert (
        refused(crm_stub.ListContacts, crm_pb2.ListContactsRequest(limit=0), bearer(shared_api))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
