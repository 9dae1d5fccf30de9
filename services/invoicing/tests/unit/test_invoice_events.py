"""The events the invoicing use cases record (docs/events.md), on a unit of work in memory: each
change records its event once, with the invoice as committed; refusals and writes that change
nothing record none. (`stored["recorded"]` holds the events of committed units of work.)"""

import contextlib

import pytest
from fake_unit_of_work import FakeUnitOfWork
from unit.test_payments import NOW, FakePaymentsUnitOfWork, deliver_standard, payable, payment_succeeded
from unit.test_use_cases import JAN_2025, KEY, Clock

from invoicing.adapters.mail_message import MessageComposer, mail_address
from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.domain.email import DeliveryFailed
from invoicing.service_layer.email import EmailSender
from invoicing.service_layer.invoices import InvoicingService
from invoicing.service_layer.payments import PaymentsService
from invoicing.service_layer.renders import InvoicePdfs
from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.timestamps import DAY_MS


@pytest.fixture
def stored() -> dict:
    return {"invoices": {}, "counters": {}}


@pytest.fixture
def clock() -> Clock:
    return Clock(JAN_2025)


@pytest.fixture
def pdfs() -> InvoicePdfs:
    return InvoicePdfs(lambda invoice, keep_going: f"%PDF {invoice.number}".encode(), cache_bytes=0)


@pytest.fixture
def invoicing(stored, clock, crm, email_queue, profiles, pdfs) -> InvoicingService:
    return InvoicingService(
        lambda read_only=False: FakeUnitOfWork(stored), crm, email_queue, pdfs, profiles=profiles, clock=clock
    )


def recorded(stored) -> list[tuple[str, str, str]]:
    return [(event.type, event.organization_id, event.obj.id) for event in stored.get("recorded", [])]


def draft(invoicing, **changes) -> str:
    fields = InvoiceFields(
        type="b2c_single",
        currency="EUR",
        bill_to=BillToFields(contact_id="ct_solo_org_a"),
        line_items=[LineFields("Consulting", 1, 10_000)],
        **changes,
    )
    return invoicing.create_invoice(KEY, fields, "org_a").id


def test_the_lifecycle_records_created_updated_sent_paid(invoicing, stored):
    invoice_id = draft(invoicing)
    invoicing.update_invoice(KEY, invoice_id, InvoiceFields(notes="thanks"), "org_a")
    invoicing.send_invoice(KEY, invoice_id, None, None)
    invoicing.pay_invoice(KEY, invoice_id, None, "card", "ch_1")
    assert recorded(stored) == [
        (kind, "org_a", invoice_id) for kind in ("invoice.created", "invoice.updated", "invoice.sent", "invoice.paid")
    ]
    events = stored["recorded"]
    assert events[1].obj.notes == "thanks" and events[2].obj.status == "sent"
    assert events[3].obj == stored["invoices"][invoice_id]  # the invoice as committed


def test_cancel_records_cancelled_and_refused_transitions_record_nothing(invoicing, stored):
    invoice_id = draft(invoicing)
    with pytest.raises(Conflict):
        invoicing.pay_invoice(KEY, invoice_id, None, "card", None)  # a draft is not payable
    with pytest.raises(InvalidArgument):
        invoicing.cancel_invoice(KEY, invoice_id, " ")
    with pytest.raises(NotFound):
        invoicing.send_invoice(KEY, "inv_missing", None, None)
    invoicing.cancel_invoice(KEY, invoice_id, "duplicate")
    with pytest.raises(Conflict):
        invoicing.cancel_invoice(KEY, invoice_id, "again")
    assert recorded(stored) == [("invoice.created", "org_a", invoice_id), ("invoice.cancelled", "org_a", invoice_id)]


def test_an_update_that_changes_nothing_records_nothing(invoicing, stored):
    invoice_id = draft(invoicing, notes="same")
    invoicing.update_invoice(KEY, invoice_id, InvoiceFields(notes="same"), "org_a")
    assert recorded(stored) == [("invoice.created", "org_a", invoice_id)]


def test_mark_overdue_records_overdue_once_per_invoice(invoicing, stored, clock):
    invoice_id = draft(invoicing, payment_terms="net7")
    invoicing.send_invoice(KEY, invoice_id, None, None)
    clock.now += 30 * DAY_MS
    assert invoicing.mark_overdue() == 1
    assert invoicing.mark_overdue() == 0
    assert [kind for kind, _, _ in recorded(stored)] == ["invoice.created", "invoice.sent", "invoice.overdue"]
    assert stored["recorded"][-1].obj.status == "overdue"


class FailingTransport:
    """Refuses every message for good, as a mail server answering 550 does."""

    @contextlib.contextmanager
    def session(self):
        yield self

    def send(self, outgoing) -> None:
        raise DeliveryFailed("550 5.1.1 No such user", temporary=False)


def test_an_email_that_fails_records_email_failed_with_the_invoice_and_the_email(invoicing, stored, clock, pdfs):
    invoice_id = draft(invoicing)
    invoicing.send_invoice(KEY, invoice_id, None, None)
    composer = MessageComposer(mail_address("invoices@billing.example", "PORTAL_MAIL_FROM"))
    sender = EmailSender(
        lambda read_only=False: FakeUnitOfWork(stored), pdfs, composer, FailingTransport(), "w1", 1.0, clock=clock
    )
    assert sender.deliver_due() == 1
    assert sender.deliver_due() == 0  # failed for good: not tried, nor recorded, again
    *_, failed = stored["recorded"]
    assert (failed.type, failed.organization_id, failed.obj.id) == ("invoice.email_failed", "org_a", invoice_id)
    email = failed.related["email"]
    assert (email.status, email.last_error, email.invoice_id) == ("failed", "550 5.1.1 No such user", invoice_id)
    assert [kind for kind, _, _ in recorded(stored)].count("invoice.email_failed") == 1


def test_a_payment_webhook_that_pays_records_paid_once():
    stored: dict = {"invoices": {"inv_1": payable()}, "counters": {}}
    payments = PaymentsService(lambda read_only=False: FakePaymentsUnitOfWork(stored), clock=lambda: NOW)
    created = payments.create_connection(
        Principal(kind=API_KEY, organization_id="org", credential_id="key"), "standard", None
    )
    deliver_standard(payments, created, payment_succeeded())
    deliver_standard(payments, created, payment_succeeded())  # redelivered: nothing changes
    deliver_standard(payments, created, payment_succeeded(), message_id="msg_2")  # a duplicate payment
    assert recorded(stored) == [("invoice.paid", "org", "inv_1")]
    assert stored["recorded"][0].obj.status == "paid"
