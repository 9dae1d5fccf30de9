"""The invoicing use cases against a fake unit of work: invoices in memory, written only on commit."""

import pytest
from fake_unit_of_work import FakeUnitOfWork

from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.domain.model import Address, BillTo, Issuer
from invoicing.service_layer.invoices import InvoicingService
from invoicing.service_layer.renders import InvoicePdfs
from portal_common.auth import API_KEY, PORTAL_USER, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound, Unavailable
from portal_common.timestamps import DAY_MS

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")
JAN_2025 = 1735689600000


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
def invoicing(stored, clock, crm, email_queue, profiles) -> InvoicingService:
    pdfs = InvoicePdfs(lambda invoice, keep_going: f"%PDF {invoice.number} {invoice.status}".encode())
    return InvoicingService(
        lambda read_only=False: FakeUnitOfWork(stored), crm, email_queue, pdfs, profiles=profiles, clock=clock
    )


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


def test_the_overdue_job_stores_what_reads_derive(invoicing, stored, clock):
    invoice = invoicing.create_invoice(KEY, b2c(), "org_a")
    sent = invoicing.send_invoice(KEY, invoice.id, None, None)
    assert [email.to for email in stored["emails"].values()] == ["solo@example.com"]
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


def test_send_snapshots_the_profile_under_the_invoices_own_issuer_fields(invoicing, stored, profiles, crm):
    crm.add_organization("org_a", "co_taxed", "Taxed GmbH", "ap@taxed.example", tax_id="ATU12345678")
    crm.add_contact("org_a", "ct_taxed", "Zoë Müller", "zoe@taxed.example", "co_taxed")
    own = Issuer(name="Acme Projects", phone="+43 1 234", address=Address(city="Wien"))
    invoice = invoicing.create_invoice(
        KEY,
        b2c(
            type="b2b_single",
            bill_to=BillToFields(crm_organization_id="co_taxed", contact_id="ct_taxed"),
            issuer=own,
        ),
        "org_a",
    )
    # A draft holds the fields it gives itself, and what the CRM had of the billed party.
    assert stored["invoices"][invoice.id].issuer == own
    assert (invoice.bill_to.tax_id, invoice.bill_to.contact_name) == ("ATU12345678", "Zoë Müller")
    profile = profiles.issuers["org_a"]
    sent = invoicing.send_invoice(KEY, invoice.id, None, None)
    expected = Issuer(
        name="Acme Projects",
        legal_name=profile.legal_name,
        email=profile.email,
        phone="+43 1 234",
        tax_id=profile.tax_id,
        address=Address(city="Wien"),  # the invoice's address as a whole, not mixed with the profile's
    )
    assert sent.issuer == stored["invoices"][invoice.id].issuer == expected
    profiles.issuers["org_a"] = Issuer(name="Renamed", tax_id="DE-NEW")
    assert stored["invoices"][invoice.id].issuer == expected


def test_a_send_the_profile_cannot_be_read_for_changes_nothing(invoicing, stored, profiles):
    invoice = invoicing.create_invoice(KEY, b2c(), "org_a")
    profiles.down = True
    with pytest.raises(Unavailable):
        invoicing.send_invoice(KEY, invoice.id, None, None)
    assert (stored["invoices"][invoice.id].status, stored["invoices"][invoice.id].issuer) == ("draft", None)


def test_a_drafts_pdf_shows_the_current_profile_and_a_sent_ones_its_snapshot(stored, clock, crm, email_queue, profiles):
    rendered = []

    def render(invoice, keep_going):
        rendered.append(invoice.issuer)
        return f"%PDF {invoice.issuer.name} {invoice.issuer.tax_id}".encode()

    invoicing = InvoicingService(
        lambda read_only=False: FakeUnitOfWork(stored),
        crm,
        email_queue,
        InvoicePdfs(render),
        profiles=profiles,
        clock=clock,
    )
    invoice = invoicing.create_invoice(KEY, b2c(), "org_a")
    assert invoicing.invoice_pdf(KEY, invoice.id).data == b"%PDF Issuer of org_a DE-org_a"
    profiles.issuers["org_a"] = Issuer(name="Renamed", tax_id="DE-NEW")
    # The cached PDF of the draft is not served again: the profile is part of what it shows.
    assert invoicing.invoice_pdf(KEY, invoice.id).data == b"%PDF Renamed DE-NEW"
    assert invoicing.invoice_pdf(KEY, invoice.id).data == b"%PDF Renamed DE-NEW" and len(rendered) == 2
    invoicing.send_invoice(KEY, invoice.id, None, None)
    profiles.issuers["org_a"] = Issuer(name="Renamed again", tax_id="DE-NEWER")
    profiles.down = True  # a sent invoice's PDF needs no profile
    assert invoicing.invoice_pdf(KEY, invoice.id).data == b"%PDF Renamed DE-NEW"
