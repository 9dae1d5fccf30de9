"""Invoice emails over real gRPC: the invoicing server with its email worker running (delivering to
.eml files, PORTAL_SMTP_URL unset), real auth and CRM services behind it."""

import email
import email.policy
import time

import grpc
import pytest
from google.protobuf import struct_pb2

from invoicing.config import Settings
from invoicing.server import build, open_database, open_invoicing
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal.invoicing.v1 import invoicing_pb2_grpc
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info


def struct(value: dict) -> struct_pb2.Struct:
    body = struct_pb2.Struct()
    body.update(value)
    return body


@pytest.fixture(scope="module")
def served(databases, grpc_peers, tmp_path_factory):
    mail_dir = tmp_path_factory.mktemp("mail")
    settings = Settings(
        database_url=databases.new_url("invoicing"),
        address="127.0.0.1:0",
        auth_target=grpc_peers.auth_target,
        crm_target=grpc_peers.crm_target,
        internal_token=grpc_peers.internal_token,
        mail_dir=mail_dir,
        retry_scale=0.001,
    )
    database = open_database(settings)
    servicer = open_invoicing(settings, database)
    server, port = build(settings, settings.address, database, servicer)
    server.start()
    worker = servicer.emails.worker
    assert worker is not None
    worker.start()
    _, key = grpc_peers.accounts.create_organization("Acme Email")
    crm = crm_pb2_grpc.CrmServiceStub(grpc.insecure_channel(grpc_peers.crm_target))
    contact = crm.UpsertContact(
        crm_pb2.UpsertContactRequest(contact=struct({"email": "zoe@example.com", "firstName": "Zoë"})),
        metadata=bearer(key),
    )
    yield (
        key,
        contact.contact_id,
        invoicing_pb2_grpc.InvoicingServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}")),
        mail_dir,
    )
    worker.stop()
    server.stop(None)


def draft(invoicing, key, contact_id) -> pb.Invoice:
    body = {
        "type": "b2c_single",
        "currency": "USD",
        "billTo": {"contactId": contact_id},
        "lineItems": [{"description": "Audit", "quantity": 1, "unitPriceInCents": 900}],
    }
    return invoicing.CreateInvoice(pb.CreateInvoiceRequest(invoice=struct(body)), metadata=bearer(key))


def listed(invoicing, key, invoice_id) -> list[pb.InvoiceEmail]:
    return list(
        invoicing.ListInvoiceEmails(pb.ListInvoiceEmailsRequest(invoice_id=invoice_id), metadata=bearer(key)).emails
    )


def test_the_worker_delivers_what_send_queued(served):
    key, contact_id, invoicing, mail_dir = served
    invoice = draft(invoicing, key, contact_id)
    invoicing.SendInvoice(pb.SendInvoiceRequest(invoice_id=invoice.id, body=struct({})), metadata=bearer(key))
    [queued] = listed(invoicing, key, invoice.id)
    assert (queued.to, queued.subject) == ("zoe@example.com", f"Invoice {invoice.name} from Acme Email")
    path = mail_dir / f"{queued.id}.eml"
    deadline = time.monotonic() + 30
    while listed(invoicing, key, invoice.id)[0].status != "sent":
        assert time.monotonic() < deadline, "not delivered within 30 s"
        time.sleep(0.05)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Message-ID"] == queued.message_id and message["To"] == "zoe@example.com"


def test_a_reminder_answers_202_with_the_queued_email(served):
    key, contact_id, invoicing, _ = served
    invoice = draft(invoicing, key, contact_id)
    request = pb.CreateInvoiceEmailRequest(invoice_id=invoice.id, body=struct({}))
    with pytest.raises(grpc.RpcError) as refused:  # a draft is sent, not reminded
        invoicing.CreateInvoiceEmail(request, metadata=bearer(key))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(refused.value.trailing_metadata())["x-portal-http-status"] == "409"
    invoicing.SendInvoice(
        pb.SendInvoiceRequest(invoice_id=invoice.id, body=struct({"email": False})), metadata=bearer(key)
    )
    assert listed(invoicing, key, invoice.id) == []
    reminder, call = invoicing.CreateInvoiceEmail.with_call(
        pb.CreateInvoiceEmailRequest(invoice_id=invoice.id, body=struct({"to": "boss@example.com"})),
        metadata=bearer(key),
    )
    assert ("x-portal-http-status", "202") in call.initial_metadata()
    assert (reminder.to, reminder.status, reminder.attempts) == ("boss@example.com", "queued", 0)
    assert reminder.subject == f"Reminder: Invoice {invoice.name} from Acme Email"
    with pytest.raises(grpc.RpcError) as unknown:
        invoicing.CreateInvoiceEmail(
            pb.CreateInvoiceEmailRequest(invoice_id=invoice.id, body=struct({"bcc": "x@example.com"})),
            metadata=bearer(key),
        )
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(unknown.value).metadata["field"] == "bcc"
