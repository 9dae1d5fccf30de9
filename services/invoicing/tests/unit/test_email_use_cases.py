"""Invoice emails through the use cases, on a unit of work in memory: queued with the change that
sends them, reminders, and a worker's delivery of a batch through a transport that records."""

import contextlib
import types

import pytest
from fake_unit_of_work import FakeUnitOfWork

from invoicing.adapters.mail_message import MessageComposer, mail_address
from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.domain.email import DeliveryFailed
from invoicing.domain.model import BillTo
from invoicing.service_layer.email import EmailSender, InvoiceEmails, OutgoingMessage
from invoicing.service_layer.invoices import InvoicingService
from invoicing.service_layer.renders import InvoicePdfs, RendersBusy
from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")
OTHER_KEY = Principal(kind=API_KEY, organization_id="org_b", credential_id="key_b")
JAN_2025 = 1735689600000


class Clock:
    def __init__(self):
        self.now = JAN_2025

    def __call__(self) -> int:
        return self.now


class Transport:
    """Records what it is given; `outcomes` (recipient → DeliveryFailed) makes a send fail."""

    def __init__(self):
        self.sent: list[OutgoingMessage] = []
        self.outcomes: dict[str, Exception] = {}
        self.sessions = 0

    @contextlib.contextmanager
    def session(self):
        self.sessions += 1
        yield self

    def send(self, outgoing: OutgoingMessage) -> None:
        if outgoing.recipient in self.outcomes:
            raise self.outcomes[outgoing.recipient]
        self.sent.append(outgoing)


class Renders:
    def __init__(self):
        self.busy = False

    def __call__(self, invoice, keep_going):
        if self.busy:
            raise RendersBusy("busy")
        return f"%PDF {invoice.number} {invoice.status}".encode()


@pytest.fixture
def stored() -> dict:
    return {"invoices": {}, "counters": {}}


@pytest.fixture
def app(stored, crm, profiles, email_queue):
    clock, transport, renders = Clock(), Transport(), Renders()

    def uow(read_only=False):
        return FakeUnitOfWork(stored)

    pdfs = InvoicePdfs(renders, cache_bytes=0)
    composer = MessageComposer(mail_address("invoices@billing.example", "PORTAL_MAIL_FROM"))

    return types.SimpleNamespace(
        invoicing=InvoicingService(uow, crm, email_queue, pdfs, profiles=profiles, clock=clock),
        emails=InvoiceEmails(uow, email_queue, clock=clock),
        sender=EmailSender(uow, pdfs, composer, transport, "worker-1", 0.001, clock=clock, spread=lambda: 0.5),
        clock=clock,
        transport=transport,
        renders=renders,
        queue=email_queue,
    )


def draft(app, contact: str = "ct_solo_org_a") -> str:
    fields = InvoiceFields(
        type="b2c_single",
        currency="EUR",
        bill_to=BillToFields(contact_id=contact),
        line_items=[LineFields("Consulting", 1, 10_000)],
    )
    return app.invoicing.create_invoice(KEY, fields, "org_a").id


def sent(app, contact: str = "ct_solo_org_a", **send) -> str:
    invoice_id = draft(app, contact)
    app.invoicing.send_invoice(KEY, invoice_id, None, send.pop("sent_to", None), **send)
    return invoice_id


def test_send_queues_the_email_in_its_own_transaction(app, stored):
    invoice_id = sent(app)
    [email] = app.emails.emails(KEY, invoice_id)
    number = stored["invoices"][invoice_id].number
    assert (email.to, email.status, email.attempts, email.kind) == ("solo@example.com", "queued", 0, "invoice")
    assert email.subject == f"Invoice {number} from Issuer of org_a"  # the issuer snapshotted by the send
    assert email.message_id == f"<{email.id}@invoicing.test>" and email.created_at == JAN_2025
    assert app.queue.pending.is_set()  # the worker is woken
    app.queue.pending.clear()
    with pytest.raises(Conflict):  # a refused transition queues nothing
        app.invoicing.send_invoice(KEY, invoice_id, None, "again@example.com")
    assert len(app.emails.emails(KEY, invoice_id)) == 1 and not app.queue.pending.is_set()


def test_without_an_address_the_send_needs_email_false(app, stored):
    invoice_id = sent(app, email=False)
    assert app.emails.emails(KEY, invoice_id) == [] and stored["invoices"][invoice_id].status == "sent"
    unaddressed = draft(app)
    stored["invoices"][unaddressed].bill_to = BillTo(name="Nobody's address")
    with pytest.raises(InvalidArgument) as refused:
        app.invoicing.send_invoice(KEY, unaddressed, None, None)
    assert refused.value.field == "sent_to" and stored["invoices"][unaddressed].status == "draft"
    assert app.invoicing.send_invoice(KEY, unaddressed, None, None, email=False).sent_to is None
    assert app.emails.emails(KEY, unaddressed) == []
    with pytest.raises(InvalidArgument) as no_address:
        app.emails.remind(KEY, unaddressed, None)
    assert no_address.value.field == "to"


def test_reminders_go_to_where_the_invoice_was_sent_or_to_a_given_address(app, stored):
    invoice_id = sent(app, sent_to="accounts@client.example")
    app.clock.now += 1000
    reminder = app.emails.remind(KEY, invoice_id, None)
    assert (reminder.to, reminder.kind) == ("accounts@client.example", "reminder")
    assert reminder.subject.startswith("Reminder: Invoice ")
    app.clock.now += 1000
    assert app.emails.remind(KEY, invoice_id, " boss@client.example ").to == "boss@client.example"
    assert [e.to for e in app.emails.emails(KEY, invoice_id)] == [
        "boss@client.example",
        "accounts@client.example",
        "accounts@client.example",
    ]
    with pytest.raises(InvalidArgument) as bad:
        app.emails.remind(KEY, invoice_id, "not an address")
    assert bad.value.field == "to"
    for principal in (OTHER_KEY,):
        with pytest.raises(NotFound):
            app.emails.remind(principal, invoice_id, None)
        with pytest.raises(NotFound):
            app.emails.emails(principal, invoice_id)
    app.invoicing.pay_invoice(KEY, invoice_id, None, "card", None)
    with pytest.raises(Conflict, match="is paid"):
        app.emails.remind(KEY, invoice_id, None)


def test_a_batch_is_delivered_and_each_outcome_recorded(app, stored):
    delivered, refused, deferred = (sent(app, sent_to=f"{name}@example.com") for name in ("ok", "gone", "later"))
    app.transport.outcomes["gone@example.com"] = DeliveryFailed("550 5.1.1 No such user", temporary=False)
    app.transport.outcomes["later@example.com"] = DeliveryFailed("421 4.7.0 Try again later", temporary=True)
    app.clock.now += 10
    assert app.sender.deliver_due() == 3 and app.transport.sessions == 1  # one session for the batch
    [message] = app.transport.sent
    assert message.recipient == "ok@example.com" and message.message["Message-ID"] == message_id(app, delivered)
    pdf = next(part for part in message.message.walk() if part.get_content_type() == "application/pdf")
    assert pdf.get_content() == f"%PDF {stored['invoices'][delivered].number} sent".encode()
    [ok], [gone], [later] = (app.emails.emails(KEY, i) for i in (delivered, refused, deferred))
    assert (ok.status, ok.attempts, ok.sent_at) == ("sent", 1, app.clock.now)
    assert (gone.status, gone.attempts, gone.last_error) == ("failed", 1, "550 5.1.1 No such user")
    assert (later.status, later.attempts, later.last_error) == ("queued", 1, "421 4.7.0 Try again later")
    assert later.next_attempt_at == app.clock.now + 30  # 30 s at a thousandth
    assert app.sender.deliver_due() == 0  # nothing due yet
    assert app.sender.seconds_until_due(30) == pytest.approx(0.03)
    del app.transport.outcomes["later@example.com"]
    app.clock.now += 30
    assert app.sender.deliver_due() == 1 and app.emails.emails(KEY, deferred)[0].status == "sent"
    assert app.sender.seconds_until_due(30) == 30  # nothing queued


def message_id(app, invoice_id: str) -> str:
    return app.emails.emails(KEY, invoice_id)[0].message_id


def test_a_busy_renderer_or_a_bug_is_no_lost_email(app):
    invoice_id = sent(app)
    app.renders.busy = True
    app.clock.now += 10
    assert app.sender.deliver_due() == 1
    [waiting] = app.emails.emails(KEY, invoice_id)
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == ("queued", 0, app.clock.now + 1000)
    app.renders.busy = False
    app.transport.outcomes["solo@example.com"] = RuntimeError("a bug")
    app.clock.now += 1000
    app.sender.deliver_due()
    [retried] = app.emails.emails(KEY, invoice_id)
    assert (retried.status, retried.attempts) == ("queued", 1)
    assert retried.last_error == "internal error (RuntimeError); see the service's log"


def test_a_stopping_worker_lets_go_of_its_batch_and_a_restarted_one_takes_back_what_it_held(app, stored):
    first, second = sent(app), sent(app, contact="ct_zoe_org_a")
    app.clock.now += 10
    assert app.sender.deliver_due(keep_going=lambda: False) == 2 and app.transport.sent == []
    assert [app.emails.emails(KEY, i)[0].next_attempt_at for i in (first, second)] == [app.clock.now] * 2
    # A worker that died holding emails: after its restart, it takes them back at once.
    with FakeUnitOfWork(stored) as uow:
        assert len(uow.emails.claim("worker-1", app.clock.now, app.clock.now + 600_000, 10)) == 2
        uow.commit()
    assert app.sender.deliver_due() == 0  # held (by "itself" before the restart)
    assert app.sender.release_own() == 2
    assert app.sender.deliver_due() == 2 and len(app.transport.sent) == 2
