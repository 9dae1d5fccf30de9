"""The invoicing service over real gRPC, as internal callers use it, with real auth and CRM
services behind it."""

import io

import grpc
import pytest
from google.protobuf import struct_pb2
from pypdf import PdfReader

from auth.domain.accounts import ProfileChanges
from invoicing.config import Settings
from invoicing.server import build
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal.invoicing.v1 import invoicing_pb2_grpc
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info


@pytest.fixture(scope="module")
def servers(databases, grpc_peers):
    settings = Settings(
        database_url=databases.new_url("invoicing"),
        address="127.0.0.1:0",
        auth_target=grpc_peers.auth_target,
        crm_target=grpc_peers.crm_target,
        internal_token=grpc_peers.internal_token,
    )
    server, port = build(settings, settings.address)
    server.start()
    yield (
        grpc_peers.accounts,
        crm_pb2_grpc.CrmServiceStub(grpc.insecure_channel(grpc_peers.crm_target)),
        invoicing_pb2_grpc.InvoicingServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}")),
    )
    server.stop(None)


@pytest.fixture
def tenant(servers):
    accounts, crm, invoicing = servers
    _, key = accounts.create_organization("Acme")
    contact = crm.UpsertContact(
        crm_pb2.UpsertContactRequest(
            contact=struct({"email": "zoe@example.com", "firstName": "Zoë", "lastName": "Müller"})
        ),
        metadata=bearer(key),
    )
    return key, contact.contact_id, invoicing


def struct(value: dict) -> struct_pb2.Struct:
    body = struct_pb2.Struct()
    body.update(value)
    return body


def invoice_json(contact_id: str, **changes) -> dict:
    """The JSON object a gRPC caller sends as a Struct, exactly as a REST client would."""
    return {
        "type": "b2c_single",
        "currency": "USD",
        "issueDate": 1704067200000,
        "billTo": {"contactId": contact_id},
        "lineItems": [
            {
                "description": "Website development services",
                "quantity": 10,
                "unitPriceInCents": 10000,
                "taxRatePercent": 7,
            }
        ],
        **changes,
    }


def new_invoice(contact_id: str, **changes) -> pb.CreateInvoiceRequest:
    return pb.CreateInvoiceRequest(invoice=struct(invoice_json(contact_id, **changes)))


def test_create_answers_201_metadata_and_the_seeds_structure(tenant):
    key, contact_id, invoicing = tenant
    invoice, call = invoicing.CreateInvoice.with_call(new_invoice(contact_id), metadata=bearer(key))
    assert ("x-portal-http-status", "201") in call.initial_metadata()
    assert (invoice.type, invoice.subtype, invoice.name, invoice.status) == (
        "invoice",
        "b2c_single",
        "INV-2024-01-001",
        "draft",
    )
    properties = invoice.custom_properties
    assert (properties.subtotal_in_cents, properties.tax_amount_in_cents, properties.total_amount_in_cents) == (
        100000,
        7000,
        107000,
    )
    assert (properties.bill_to.name, properties.bill_to.email) == ("Zoë Müller", "zoe@example.com")
    assert properties.due_date == 1706659200000
    again = invoicing.GetInvoice(pb.GetInvoiceRequest(invoice_id=invoice.id), metadata=bearer(key))
    assert again == invoice


def test_the_pdf_is_an_http_body_with_a_file_name(tenant):
    key, contact_id, invoicing = tenant
    invoice = invoicing.CreateInvoice(new_invoice(contact_id), metadata=bearer(key))
    body, call = invoicing.GetInvoicePdf.with_call(pb.GetInvoicePdfRequest(invoice_id=invoice.id), metadata=bearer(key))
    assert body.content_type == "application/pdf"
    assert ("content-disposition", f'attachment; filename="{invoice.name}.pdf"') in call.initial_metadata()
    text = PdfReader(io.BytesIO(body.data)).pages[0].extract_text()
    assert invoice.name in text and "USD 1,070.00" in text and "Zoë Müller" in text


def test_an_unknown_contact_is_invalid_and_names_the_field(tenant):
    key, _, invoicing = tenant
    with pytest.raises(grpc.RpcError) as raised:
        invoicing.CreateInvoice(new_invoice("ct_01M85MR3FBRDA69K8YQS57KNXX"), metadata=bearer(key))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == "billTo.contactId"


def test_illegal_transitions_are_conflicts(tenant):
    key, contact_id, invoicing = tenant
    invoice = invoicing.CreateInvoice(new_invoice(contact_id), metadata=bearer(key))
    with pytest.raises(grpc.RpcError) as raised:
        invoicing.PayInvoice(
            pb.PayInvoiceRequest(invoice_id=invoice.id, body=struct({"paymentMethod": "card"})), metadata=bearer(key)
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(raised.value.trailing_metadata())["x-portal-http-status"] == "409"


@pytest.mark.parametrize("metadata", [[], [("authorization", "Bearer pk_" + "a" * 43)]])
def test_calls_without_a_valid_credential_are_unauthenticated(servers, metadata):
    _, _, invoicing = servers
    with pytest.raises(grpc.RpcError) as raised:
        invoicing.ListInvoices(pb.ListInvoicesRequest(), metadata=metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("limit", [0, 201])
def test_limits_out_of_range_are_invalid(tenant, limit):
    key, _, invoicing = tenant
    with pytest.raises(grpc.RpcError) as raised:
        invoicing.ListInvoices(pb.ListInvoicesRequest(limit=limit), metadata=bearer(key))
    assert error_info(raised.value).metadata["field"] == "limit"


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"lineItems": [{"description": "x", "quantity": 1, "unitPrise": 5}]}, "lineItems[0].unitPrise"),
        (
            {"customProperties": {"lineItems": [{"description": "x", "quantity": 0, "unitPriceInCents": 5}]}},
            "customProperties.lineItems[0].quantity",
        ),
        ({"type": "invoice", "subtype": "b2x"}, "subtype"),
    ],
)
def test_grpc_callers_send_the_json_body_as_a_struct_read_as_strictly(tenant, changes, field):
    key, contact_id, invoicing = tenant
    body = invoice_json(contact_id, **changes)
    if "customProperties" in changes:
        del body["lineItems"]
    with pytest.raises(grpc.RpcError) as raised:
        invoicing.CreateInvoice(pb.CreateInvoiceRequest(invoice=struct(body)), metadata=bearer(key))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == field and field in raised.value.details()


def test_transitions_take_their_json_body_as_a_struct(tenant):
    key, contact_id, invoicing = tenant
    invoice = invoicing.CreateInvoice(new_invoice(contact_id), metadata=bearer(key))
    sent = invoicing.SendInvoice(
        pb.SendInvoiceRequest(
            invoice_id=invoice.id, body=struct({"sentTo": "ap@example.com", "sentDate": 1704153600000})
        ),
        metadata=bearer(key),
    )
    assert (sent.custom_properties.sent_to, sent.custom_properties.sent_date) == ("ap@example.com", 1704153600000)
    with pytest.raises(grpc.RpcError) as raised:
        invoicing.CancelInvoice(
            pb.CancelInvoiceRequest(invoice_id=invoice.id, body=struct({"reson": "typo"})), metadata=bearer(key)
        )
    assert error_info(raised.value).metadata["field"] == "reson"


def test_the_issuer_is_the_profile_the_auth_service_keeps_snapshotted_when_sent(servers):
    accounts, crm, invoicing = servers
    organization_id, key = accounts.create_organization("Profiled")
    accounts.update_organization(organization_id, ProfileChanges({"tax_id": "DE111", "address.city": "Berlin"}))
    contact = crm.UpsertContact(
        crm_pb2.UpsertContactRequest(contact=struct({"email": "ann@example.com", "firstName": "Ann"})),
        metadata=bearer(key),
    )
    invoice = invoicing.CreateInvoice(new_invoice(contact.contact_id), metadata=bearer(key))
    assert not invoice.custom_properties.HasField("issuer")  # a draft has only the issuer fields it gives
    draft_pdf = invoicing.GetInvoicePdf(pb.GetInvoicePdfRequest(invoice_id=invoice.id), metadata=bearer(key))
    assert "Tax ID: DE111" in PdfReader(io.BytesIO(draft_pdf.data)).pages[0].extract_text()
    sent = invoicing.SendInvoice(pb.SendInvoiceRequest(invoice_id=invoice.id, body=struct({})), metadata=bearer(key))
    issuer = sent.custom_properties.issuer
    assert (issuer.name, issuer.tax_id, issuer.address.city) == ("Profiled", "DE111", "Berlin")
    accounts.update_organization(organization_id, ProfileChanges({"name": "Renamed", "tax_id": None}))
    again = invoicing.GetInvoice(pb.GetInvoiceRequest(invoice_id=invoice.id), metadata=bearer(key))
    assert again.custom_properties.issuer == issuer
