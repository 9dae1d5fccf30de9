"""The invoicing use cases against a fake unit of work: invoices in memory, written only on commit."""

import copy

import pytest

from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.domain.model import BillTo, Invoice
from invoicing.service_layer.invoices import InvoicingService
from invoicing.service_layer.renders import InvoicePdfs
from portal_common.auth import API_KEY, PORTAL_USER, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.timestamps import DAY_MS

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")
JAN_2025 = 1735689600000


class FakeInvoices:
    def __init__(self, state: dict):
        self._state = state

    def next_sequence(self, organization_id: str, period: str) -> int:
        counters = self._state["counters"]
        counters[organization_id, period] = counters.get((organization_id, period), 0) + 1
        return counters[organization_id, period]

    def add(self, invoice: Invoice) -> None:
        self._state["invoices"][invoice.id] = copy.deepcopy(invoice)

    save = add

    def get(self, organization_id: str, invoice_id: str) -> Invoice | None:
        invoice = self._state["invoices"].get(invoice_id)
        return copy.deepcopy(invoice) if invoice and invoice.organization_id == organization_id else None

    def past_due(self, now: int, batch: int) -> list[Invoice]:
        due = [i for i in self._state["invoices"].values() if i.status != i.status_at(now)]
        return copy.deepcopy(due[:batch])


class FakeUnitOfWork:
    """Works on a copy of the committed state; commit() makes the copy the committed state."""

    def __init__(self, committed: dict):
        self.committed = committed

    def __enter__(self):
        self._working = copy.deepcopy(self.committed)
        self.invoices = FakeInvoices(self._working)
        return self

    def commit(self) -> None:
        self.committed.update(self._working)

    def __exit__(self, *exc) -> None:
        pass


class Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def stored() -> dict:
    return {"invoices": {}, "counters": {}}


@pytest.fixture
def clock() -> Clock:
    return Clock(JAN_2025)


@pytest.fixture
def invoicing(stored, clock, crm, delivery) -> InvoicingService:
    pdfs = InvoicePdfs(lambda invoice, keep_going: f"%PDF {invoice.number} {invoice.status}".encode())
    return InvoicingService(lambda read_only=False: FakeUnitOfWork(stored), crm, delivery, pdfs, clock=clock)


def b2c(**changes) -> InvoiceFields:
    return InvoiceFields(
        **{
            "type": "b2c_single",
            "currency": "EUR",
            "bill_to": BillToFields(contact_id="ct_solo_org_a"),
            "line_items": [LineFields("Consulting", 1.5, 3333, 7.5)],
            **changes,
        }
    )


def test_create_numbers_and_stores_a_draft_on_commit(invoicing, stored):
    first, second = (invoicing.create_invoice(KEY, b2c(), "org_a") for _ in range(2))
    assert (first.number, second.number) == ("INV-2025-01-001", "INV-2025-01-002")
    assert (first.status, first.issue_date, first.due_date) == ("draft", JAN_2025, JAN_2025 + 30 * DAY_MS)
    assert first.totals.total_cents == 5375 and first.bill_to.name == "日本 Solo"
    assert stored["invoices"][first.id] == first


def test_refused_writes_store_nothing_and_name_domain_paths(invoicing, stored):
    with pytest.raises(InvalidArgument) as refused:
        invoicing.create_invoice(KEY, b2c(line_items=[LineFields("x", 1, -1)]), "org_a")
    assert refused.value.field == "line_items[0].unit_price_in_cents"
    assert stored == {"invoices": {}, "counters": {}}
    invoice = invoicing.create_invoice(KEY, b2c(), "org_a")
    stored["invoices"][invoice.id].bill_to = BillTo(name="Stored without an email")
    with pytest.raises(InvalidArgument) as refused:
        invoicing.send_invoice(KEY, invoice.id, None, None)
    assert refused.value.field == "sent_to" and stored["invoices"][invoice.id].status == "draft"


def test_update_applies_the_changes_to_a_draft_only(invoicing, stored, clock):
    invoice = invoicing.create_invoice(KEY, b2c(), "org_a")
    clock.now += 1000
    updated = invoicing.update_invoice(KEY, invoice.id, InvoiceFields(notes="second", payment_terms="net7"), "org_a")
    assert (updated.notes, updated.due_date, updated.number) == ("second", JAN_2025 + 7 * DAY_MS, invoice.number)
    assert updated.updated_at == clock.now and stored["invoices"][invoice.id] == updated
    with pytest.raises(InvalidArgument) as refused:
        invoicing.update_invoice(KEY, invoice.id, InvoiceFields(issue_date=JAN_2025 + 31 * DAY_MS), "org_a")
    assert refused.value.field == "issue_date"
    invoicing.send_invoice(KEY, invoice.id, None, None)
    with pytest.raises(Conflict):
        invoicing.update_invoice(KEY, invoice.id, InvoiceFields(notes="third"), "org_a")
    with pytest.raises(NotFound):
        invoicing.update_invoice(Principal(kind=API_KEY, organization_id="org_b"), invoice.id, InvoiceFields(), "b")


def test_the_overdue_job_stores_what_reads_derive(invoicing, stored, clock, delivery):
    invoice = invoicing.create_invoice(KEY, b2c(), "org_a")
    sent = invoicing.send_invoice(KEY, invoice.id, None, None)
    assert delivery.delivered == [(invoice.number, "solo@example.com")]
    clock.now = sent.due_date + DAY_MS
    assert stored["invoices"][invoice.id].status_at(clock.now) == "overdue"
    assert invoicing.mark_overdue(batch=1) == 1 and invoicing.mark_overdue() == 0
    assert (stored["invoices"][invoice.id].status, stored["invoices"][invoice.id].updated_at) == (
        "overdue",
        sent.updated_at,
    )
    assert invoicing.pay_invoice(KEY, invoice.id, None, "card", None).status == "paid"


def test_a_pdf_shows_the_status_as_read_to_whom_may_see_it(invoicing, clock):
    invoice = invoicing.create_invoice(KEY, b2c(), "org_a")
    customer = Principal(kind=PORTAL_USER, organization_id="org_a", crm_contact_id="ct_solo_org_a")
    with pytest.raises(NotFound):  # a draft is not issued yet
        invoicing.invoice_pdf(customer, invoice.id)
    sent = invoicing.send_invoice(KEY, invoice.id, None, None)
    clock.now = sent.due_date + DAY_MS
    pdf = invoicing.invoice_pdf(customer, invoice.id)
    assert (pdf.filename, pdf.data) == (f"{invoice.number}.pdf", f"%PDF {invoice.number} overdue".encode())
    with pytest.raises(NotFound):
        invoicing.invoice_pdf(
            Principal(kind=PORTAL_USER, organization_id="org_a", crm_contact_id="ct_zoe_org_a"), invoice.id
        )
