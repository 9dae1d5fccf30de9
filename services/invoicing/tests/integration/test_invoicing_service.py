"""The invoicing use cases on a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE)."""

import dataclasses
import threading
from fractions import Fraction

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoicing.adapters.tables import invoice_counters
from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.domain.model import Address
from invoicing.queries import InvoiceFilter
from portal_common.auth import API_KEY, Principal
from portal_common.currencies import MAX_MINOR_UNITS
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound, Unavailable
from portal_common.timestamps import DAY_MS

ORG, OTHER_ORG = "org_a", "org_b"
KEY = Principal(kind=API_KEY, organization_id=ORG, credential_id="key_a")
OTHER_KEY = Principal(kind=API_KEY, organization_id=OTHER_ORG, credential_id="key_b")
JAN_2025 = 1735689600000
FEB_2025 = JAN_2025 + 31 * DAY_MS
FAR_FUTURE = 4102444800000  # 2100-01-01: never overdue in these tests
ALL = InvoiceFilter()


def b2c(**overrides) -> InvoiceFields:
    fields = InvoiceFields(
        type="b2c_single",
        currency="EUR",
        issue_date=FAR_FUTURE,
        bill_to=BillToFields(contact_id="ct_solo_org_a"),
        line_items=[LineFields("Consulting", 1.5, 3333, 7.5), LineFields("Travel", 1, 10000)],
    )
    return dataclasses.replace(fields, **overrides)


def b2b(**overrides) -> InvoiceFields:
    return b2c(**{"type": "b2b_single", "bill_to": BillToFields(crm_organization_id="co_acme_org_a"), **overrides})


def create(invoicing, fields=None, principal=KEY):
    return invoicing.create_invoice(principal, fields or b2c(), principal.organization_id)


def test_the_server_computes_every_amount_and_the_number(invoicing):
    invoice = create(invoicing)
    assert invoice.number == "INV-2100-01-001" and invoice.status == "draft"
    assert [(line.amounts.total_cents, line.amounts.tax_cents) for line in invoice.line_items] == [
        (5000, 375),
        (10000, 0),
    ]
    assert (invoice.totals.subtotal_cents, invoice.totals.tax_cents, invoice.totals.total_cents) == (15000, 375, 15375)
    assert invoice.due_date == FAR_FUTURE + 30 * DAY_MS and invoice.created_by == "key_a"
    assert invoice.bill_to.name == "日本 Solo" and invoice.bill_to.email == "solo@example.com"
    view = invoicing.get_invoice(KEY, invoice.id)
    assert view.custom_properties.total_amount_in_cents == 15375 and view.name == "INV-2100-01-001"


def test_numbers_count_per_organization_and_per_month_of_issue(invoicing):
    numbers = [create(invoicing, b2c(issue_date=when)).number for when in (JAN_2025, JAN_2025 + 1, FEB_2025)]
    other = create(invoicing, b2c(issue_date=JAN_2025, bill_to=BillToFields(contact_id="ct_solo_org_b")), OTHER_KEY)
    assert numbers == ["INV-2025-01-001", "INV-2025-01-002", "INV-2025-02-001"]
    assert other.number == "INV-2025-01-001"


@pytest.mark.parametrize("run", range(2))
def test_concurrent_creates_never_duplicate_or_skip_a_number(invoicing, run):
    creates, threads = 24, 16
    barrier = threading.Barrier(threads)
    numbers, errors = [], []
    lock = threading.Lock()

    def worker(count):
        barrier.wait()
        for _ in range(count):
            try:
                number = create(invoicing, b2c(issue_date=JAN_2025)).number
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            else:
                with lock:
                    numbers.append(number)

    counts = [creates // threads + (1 if i < creates % threads else 0) for i in range(threads)]
    pool = [threading.Thread(target=worker, args=(count,)) for count in counts]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [f"INV-2025-01-{n:03d}" for n in range(1, creates + 1)]


def test_numbers_widen_past_999(invoicing, engine):
    create(invoicing, b2c(issue_date=JAN_2025))
    with engine.begin() as connection:
        connection.execute(sa.update(invoice_counters).values(last_number=999))
    assert create(invoicing, b2c(issue_date=JAN_2025)).number == "INV-2025-01-1000"


def test_a_refused_create_takes_no_number(invoicing, crm):
    create(invoicing, b2c(issue_date=JAN_2025))
    with pytest.raises(InvalidArgument):
        create(invoicing, b2c(issue_date=JAN_2025, total_amount_cents=1))
    crm.down = True
    with pytest.raises(Unavailable):
        create(invoicing, b2c(issue_date=JAN_2025))
    crm.down = False
    assert create(invoicing, b2c(issue_date=JAN_2025)).number == "INV-2025-01-002"


def test_client_totals_must_agree(invoicing):
    assert create(invoicing, b2c(subtotal_cents=15000, tax_amount_cents=375, total_amount_cents=15375))
    for fields, name in (
        (b2c(total_amount_cents=15374), "totalAmountInCents"),
        (b2c(subtotal_cents=1), "subtotalInCents"),
        (
            b2c(line_items=[LineFields("x", 1, 100, 10, total_price_cents=100, tax_amount_cents=11)]),
            "lineItems[0].taxAmountInCents",
        ),
    ):
        with pytest.raises(InvalidArgument) as raised:
            create(invoicing, fields)
        assert raised.value.field == name


@pytest.mark.parametrize(
    "fields,field",
    [
        (b2c(type=None), "type"),
        (b2c(type="b2b"), "type"),
        (b2c(currency="EURO"), "currency"),
        (b2c(line_items=None), "lineItems"),
        (b2c(line_items=[LineFields("x", 1, 1)] * 1001), "lineItems"),
        (b2c(line_items=[LineFields(" ", 1, 1)]), "lineItems[0].description"),
        (b2c(line_items=[LineFields("x", 0, 1)]), "lineItems[0].quantity"),
        (b2c(line_items=[LineFields("x", 1.00001, 1)]), "lineItems[0].quantity"),
        (b2c(line_items=[LineFields("x", 1, -1)]), "lineItems[0].unitPriceInCents"),
        (b2c(line_items=[LineFields("x", 1, 1, 100.5)]), "lineItems[0].taxRatePercent"),
        (b2c(line_items=[LineFields("x", 2, MAX_MINOR_UNITS)]), "lineItems[0].quantity"),
        (b2c(line_items=[LineFields("x", 1, MAX_MINOR_UNITS + 1)]), "lineItems[0].unitPriceInCents"),
        (b2c(issue_date=1.5), "issueDate"),
        (b2c(issue_date=-1), "issueDate"),
        (b2c(due_date=FAR_FUTURE), "dueDate"),
        (b2c(payment_terms="net45"), "paymentTerms"),
        (b2c(bill_to=None), "billTo"),
        (b2c(bill_to=BillToFields()), "billTo.name"),
        (b2c(bill_to=BillToFields(name="John Doe")), "billTo.email"),
        (b2c(bill_to=BillToFields(email="john.doe@example.com")), "billTo.name"),
        (b2c(bill_to=BillToFields(name="John Doe", email="nope")), "billTo.email"),
        (b2c(bill_to=BillToFields(contact_id="ct_nobody")), "billTo.contactId"),
        (b2c(bill_to=BillToFields(contact_id="ct_solo_org_b")), "billTo.contactId"),  # another tenant's
        (
            b2c(bill_to=BillToFields(contact_id="ct_solo_org_a", crm_organization_id="co_acme_org_a")),
            "billTo.contactId",
        ),  # not a contact of that organization
        (b2c(bill_to=BillToFields(crm_organization_id="co_acme_org_b")), "billTo.crmOrganizationId"),
        (b2c(bill_to=BillToFields(contact_id="ct_solo_org_a", email="nope")), "billTo.email"),
        (b2b(bill_to=BillToFields(contact_id="ct_zoe_org_a")), "billTo.crmOrganizationId"),
        (
            b2b(bill_to=BillToFields(crm_organization_id="co_acme_org_a", contact_id="ct_solo_org_a")),
            "billTo.contactId",
        ),
        (b2b(line_items=[LineFields("x", 1, 1, employee_contact_id="ct_zoe_org_a")]), "lineItems[0].employeeContactId"),
        (b2b(type="b2b_consolidated"), "lineItems[0].employeeContactId"),
        (
            b2b(type="b2b_consolidated", line_items=[LineFields("x", 1, 1, employee_contact_id="ct_solo_org_a")]),
            "lineItems[0].employeeContactId",
        ),
    ],
)
def test_invalid_invoices_are_refused_naming_the_field(invoicing, fields, field):
    with pytest.raises(InvalidArgument) as raised:
        create(invoicing, fields)
    assert raised.value.field == field


def test_billto_comes_from_the_crm_unless_given_and_is_a_snapshot(invoicing, crm):
    invoice = create(
        invoicing, b2b(bill_to=BillToFields(crm_organization_id="co_acme_org_a", contact_id="ct_zoe_org_a"))
    )
    assert (invoice.bill_to.name, invoice.bill_to.email) == ("Łódź Works", "billing@lodz.example")
    assert invoice.bill_to.address.city == "Łódź"
    given = create(
        invoicing,
        b2b(
            bill_to=BillToFields(
                crm_organization_id="co_acme_org_a",
                name="Acme HR",
                email="hr@acme.example",
                address=Address(city="Paris"),
            )
        ),
    )
    assert (given.bill_to.name, given.bill_to.email, given.bill_to.address) == (
        "Acme HR",
        "hr@acme.example",
        Address(city="Paris"),
    )
    crm.add_organization(ORG, "co_acme_org_a", "Renamed Ltd", "new@lodz.example")
    assert invoicing.get_invoice(KEY, invoice.id).custom_properties.bill_to.name == "Łódź Works"


def test_a_consolidated_invoice_names_each_employee_and_awaits_the_employer(invoicing, crm):
    fields = b2b(
        type="b2b_consolidated",
        line_items=[
            LineFields("Training", 2, 5000, 20, employee_contact_id="ct_zoe_org_a"),
            LineFields("Training", 1, 5000, 20, employee_contact_id="ct_max_org_a"),
            LineFields("Materials", 1, 1000, 20, employee_contact_id="ct_zoe_org_a"),
        ],
    )
    calls = crm.calls
    invoice = create(invoicing, fields)
    assert crm.calls - calls == 3  # the organization and each employee once
    assert [line.employee_name for line in invoice.line_items] == ["Zoë Müller", "Max Mustermann", "Zoë Müller"]
    sent = invoicing.send_invoice(KEY, invoice.id, None, None)
    assert sent.status == "awaiting_employer_payment" and sent.sent_to == "billing@lodz.example"
    assert [email.to for email in invoicing.emails.emails(KEY, invoice.id)] == ["billing@lodz.example"]
    assert invoicing.pay_invoice(KEY, invoice.id, None, "bank_transfer", "tx-9").status == "paid"


def test_updates_change_drafts_only_and_recheck_everything(invoicing):
    invoice = create(invoicing, b2c(issue_date=JAN_2025, notes="first"))
    updated = invoicing.update_invoice(KEY, invoice.id, InvoiceFields(notes="second", payment_terms="net7"), ORG)
    assert (updated.notes, updated.payment_terms, updated.due_date) == ("second", "net7", JAN_2025 + 7 * DAY_MS)
    assert updated.number == invoice.number and updated.totals == invoice.totals
    relined = invoicing.update_invoice(KEY, invoice.id, InvoiceFields(line_items=[LineFields("One", 2, 250, 10)]), ORG)
    assert relined.totals.total_cents == 550
    with pytest.raises(InvalidArgument) as raised:
        invoicing.update_invoice(KEY, invoice.id, InvoiceFields(issue_date=FEB_2025), ORG)
    assert raised.value.field == "issueDate"
    with pytest.raises(InvalidArgument):
        invoicing.update_invoice(KEY, invoice.id, InvoiceFields(type="b2b_single"), ORG)  # billTo is a person
    invoicing.send_invoice(KEY, invoice.id, None, "someone@example.com")
    with pytest.raises(Conflict):
        invoicing.update_invoice(KEY, invoice.id, InvoiceFields(notes="third"), ORG)
    with pytest.raises(NotFound):
        invoicing.update_invoice(OTHER_KEY, invoice.id, InvoiceFields(notes="x"), OTHER_ORG)


def test_the_lifecycle_records_each_transition(invoicing):
    invoice = create(invoicing)
    with pytest.raises(Conflict):
        invoicing.pay_invoice(KEY, invoice.id, None, "card", None)
    sent = invoicing.send_invoice(KEY, invoice.id, 1_700_000_000_000, "zoe@example.com")
    assert (sent.status, sent.sent_date, sent.sent_to) == ("sent", 1_700_000_000_000, "zoe@example.com")
    with pytest.raises(Conflict):
        invoicing.send_invoice(KEY, invoice.id, None, None)
    paid = invoicing.pay_invoice(KEY, invoice.id, 1_700_000_100_000, "card", "ch_123")
    assert (paid.status, paid.paid_date, paid.payment_method, paid.transaction_ref) == (
        "paid",
        1_700_000_100_000,
        "card",
        "ch_123",
    )
    with pytest.raises(Conflict):
        invoicing.cancel_invoice(KEY, invoice.id, "too late")
    draft = create(invoicing)
    with pytest.raises(InvalidArgument):
        invoicing.cancel_invoice(KEY, draft.id, "  ")
    cancelled = invoicing.cancel_invoice(KEY, draft.id, "duplicate")
    assert (cancelled.status, cancelled.cancellation_reason) == ("cancelled", "duplicate")
    assert len(invoicing.emails.emails(KEY, invoice.id)) == 1 and invoicing.emails.emails(KEY, draft.id) == []


def test_overdue_is_derived_on_read_and_in_filters_then_persisted_by_the_job(invoicing):
    past = create(invoicing, b2c(issue_date=JAN_2025))
    future = create(invoicing)
    for invoice in (past, future):
        invoicing.send_invoice(KEY, invoice.id, None, None)
    read = invoicing.get_invoice(KEY, past.id)
    assert read.status == "overdue" and invoicing.get_invoice(KEY, future.id).status == "sent"
    listed = invoicing.list_invoices(KEY, InvoiceFilter(status="overdue"), 50, 0)
    assert [i.id for i in listed.invoices] == [past.id] and listed.total == 1
    assert [i.id for i in invoicing.list_invoices(KEY, InvoiceFilter(status="sent"), 50, 0).invoices] == [future.id]
    assert invoicing.mark_overdue() == 1 and invoicing.mark_overdue() == 0
    after = invoicing.get_invoice(KEY, past.id)
    assert after.status == "overdue" and after.updated_at == read.updated_at
    assert invoicing.list_invoices(KEY, InvoiceFilter(status="overdue"), 50, 0).total == 1
    assert invoicing.pay_invoice(KEY, past.id, None, "cash", None).status == "paid"


def test_lists_filter_and_page(invoicing):
    a = create(invoicing, b2c(issue_date=JAN_2025))
    b = create(invoicing, b2b(issue_date=FEB_2025))
    c = create(
        invoicing,
        b2b(
            issue_date=FEB_2025 + DAY_MS,
            bill_to=BillToFields(crm_organization_id="co_acme_org_a", contact_id="ct_zoe_org_a"),
        ),
    )
    create(invoicing, b2c(bill_to=BillToFields(contact_id="ct_solo_org_b")), OTHER_KEY)
    invoicing.cancel_invoice(KEY, b.id, "wrong")

    def ids(where, limit=50, offset=0):
        return [i.id for i in invoicing.list_invoices(KEY, where, limit, offset).invoices]

    assert ids(ALL) == [c.id, b.id, a.id]
    assert ids(ALL, 2, 0) + ids(ALL, 2, 2) == [c.id, b.id, a.id]
    assert ids(InvoiceFilter(type="b2b_single")) == [c.id, b.id]
    assert ids(InvoiceFilter(contact_id="ct_zoe_org_a")) == [c.id]
    assert ids(InvoiceFilter(crm_organization_id="co_acme_org_a")) == [c.id, b.id]
    assert ids(InvoiceFilter(start_date=FEB_2025)) == [c.id, b.id]
    assert ids(InvoiceFilter(start_date=FEB_2025, end_date=FEB_2025)) == [b.id]
    assert ids(InvoiceFilter(status="cancelled")) == [b.id]
    billed = invoicing.list_billed_to(
        KEY, InvoiceFilter(crm_organization_id="co_acme_org_a", include_cancelled=False), 50, 0, ORG
    )
    assert [i.id for i in billed.invoices] == [c.id] and billed.total == 1
    for bad in (InvoiceFilter(status="late"), InvoiceFilter(type="b2b"), InvoiceFilter(start_date=0.5)):
        with pytest.raises(InvalidArgument):
            invoicing.list_invoices(KEY, bad, 50, 0)


def test_portal_users_see_only_sent_invoices_billed_to_them(invoicing, portal_user):
    to_zoe = create(
        invoicing, b2b(bill_to=BillToFields(crm_organization_id="co_acme_org_a", contact_id="ct_zoe_org_a"))
    )
    to_solo = create(invoicing)
    draft_to_acme = create(invoicing, b2b())
    for invoice in (to_zoe, to_solo):
        invoicing.send_invoice(KEY, invoice.id, None, None)
    zoe = portal_user("ct_zoe_org_a", "co_acme_org_a")
    max_ = portal_user("ct_max_org_a", "co_acme_org_a")  # a colleague: same CRM organization
    solo = portal_user("ct_solo_org_a")
    nobody = portal_user()
    assert [i.id for i in invoicing.list_invoices(zoe, ALL, 50, 0).invoices] == [to_zoe.id]
    assert [i.id for i in invoicing.list_invoices(max_, ALL, 50, 0).invoices] == [to_zoe.id]
    assert [i.id for i in invoicing.list_invoices(solo, ALL, 50, 0).invoices] == [to_solo.id]
    assert invoicing.list_invoices(nobody, ALL, 50, 0).total == 0
    assert invoicing.get_invoice(zoe, to_zoe.id).id == to_zoe.id
    assert invoicing.invoice_pdf(solo, to_solo.id).filename == f"{to_solo.number}.pdf"
    for principal, invoice_id in (
        (zoe, to_solo.id),
        (solo, to_zoe.id),
        (zoe, draft_to_acme.id),
        (portal_user("ct_zoe_org_a", organization_id=OTHER_ORG), to_zoe.id),
    ):
        with pytest.raises(NotFound):
            invoicing.get_invoice(principal, invoice_id)
        with pytest.raises(NotFound):
            invoicing.invoice_pdf(principal, invoice_id)


def test_organizations_never_see_each_others_invoices(invoicing):
    invoice = create(invoicing)
    for action in (
        lambda: invoicing.get_invoice(OTHER_KEY, invoice.id),
        lambda: invoicing.send_invoice(OTHER_KEY, invoice.id, None, "x@example.com"),
        lambda: invoicing.pay_invoice(OTHER_KEY, invoice.id, None, "card", None),
        lambda: invoicing.cancel_invoice(OTHER_KEY, invoice.id, "mine now"),
        lambda: invoicing.invoice_pdf(OTHER_KEY, invoice.id),
    ):
        with pytest.raises(NotFound):
            action()
    assert invoicing.list_invoices(OTHER_KEY, ALL, 50, 0).total == 0
    assert invoicing.get_invoice(KEY, invoice.id).status == "draft"


def test_counted_totals_follow_every_change_of_status_and_type(invoicing):
    drafts = [create(invoicing) for _ in range(3)]
    create(invoicing, b2c(bill_to=BillToFields(contact_id="ct_solo_org_b")), OTHER_KEY)
    invoicing.update_invoice(
        KEY,
        drafts[0].id,
        InvoiceFields(type="b2b_single", bill_to=BillToFields(crm_organization_id="co_acme_org_a")),
        ORG,
    )
    invoicing.send_invoice(KEY, drafts[1].id, None, None)
    invoicing.pay_invoice(KEY, drafts[1].id, None, "card", None)
    invoicing.cancel_invoice(KEY, drafts[2].id, "duplicate")
    past = create(invoicing, b2c(issue_date=JAN_2025))
    invoicing.send_invoice(KEY, past.id, None, None)

    def total(**where):
        return invoicing.list_invoices(KEY, InvoiceFilter(**where), 50, 0).total

    assert (total(status="overdue"), total(status="overdue", type="b2c_single"), total(status="sent")) == (1, 1, 0)
    invoicing.mark_overdue()
    assert total() == 4
    assert (total(status="draft"), total(status="paid"), total(status="cancelled"), total(status="overdue")) == (
        1,
        1,
        1,
        1,
    )
    assert (total(type="b2b_single"), total(type="b2c_single"), total(type="b2c_single", status="paid")) == (1, 3, 1)


def test_billto_without_ids_is_who_the_client_names_and_asks_no_crm(invoicing, crm):
    calls = crm.calls
    address = Address(street="123 Main St", city="San Francisco", state="CA", postal_code="94105", country="US")
    invoice = create(
        invoicing, b2c(bill_to=BillToFields(name=" John Doe ", email="john.doe@example.com", address=address))
    )
    assert crm.calls == calls
    assert (invoice.bill_to.name, invoice.bill_to.email, invoice.bill_to.address) == (
        "John Doe",
        "john.doe@example.com",
        address,
    )
    assert (invoice.bill_to.contact_id, invoice.bill_to.crm_organization_id) == (None, None)
    assert invoicing.get_invoice(KEY, invoice.id).custom_properties.bill_to.name == "John Doe"


def test_a_b2c_invoice_may_name_the_persons_crm_organization_too(invoicing):
    # The seed's example: a b2c_single billTo with contactId and crmOrganizationId.
    both = create(invoicing, b2c(bill_to=BillToFields(contact_id="ct_zoe_org_a", crm_organization_id="co_acme_org_a")))
    assert (both.bill_to.name, both.bill_to.email, both.bill_to.address.city) == (
        "Zoë Müller",
        "zoe@example.com",
        "Łódź",
    )  # the person, at the organization's address
    assert (both.bill_to.contact_id, both.bill_to.crm_organization_id) == ("ct_zoe_org_a", "co_acme_org_a")
    organization_only = create(invoicing, b2c(bill_to=BillToFields(crm_organization_id="co_acme_org_a")))
    assert (organization_only.bill_to.name, organization_only.bill_to.email) == ("Łódź Works", "billing@lodz.example")


def test_lists_of_a_contact_or_organization_that_is_not_the_callers_are_404(invoicing, portal_user):
    create(invoicing, b2b(bill_to=BillToFields(crm_organization_id="co_acme_org_a", contact_id="ct_zoe_org_a")))
    for where in (
        InvoiceFilter(contact_id="ct_zoe_org_b"),
        InvoiceFilter(contact_id="ct_nobody"),
        InvoiceFilter(crm_organization_id="co_acme_org_b"),
        InvoiceFilter(crm_organization_id="co_none"),
    ):
        with pytest.raises(NotFound):
            invoicing.list_billed_to(KEY, where, 50, 0, ORG)
    assert invoicing.list_billed_to(KEY, InvoiceFilter(contact_id="ct_max_org_a"), 50, 0, ORG).total == 0
    zoe = portal_user("ct_zoe_org_a", "co_acme_org_a")
    for where in (InvoiceFilter(contact_id="ct_max_org_a"), InvoiceFilter(crm_organization_id="co_other")):
        with pytest.raises(NotFound):
            invoicing.list_billed_to(zoe, where, 50, 0, "ps_zoe")
    assert invoicing.list_billed_to(zoe, InvoiceFilter(contact_id="ct_zoe_org_a"), 50, 0, "ps_zoe").total == 0


def test_amounts_up_to_2_to_the_53_are_stored_and_read_back_exactly(invoicing):
    invoice = create(invoicing, b2c(currency="JPY", line_items=[LineFields("Plant", 1, MAX_MINOR_UNITS)]))
    properties = invoicing.get_invoice(KEY, invoice.id).custom_properties
    assert properties.total_amount_in_cents == properties.line_items[0].unit_price_in_cents == MAX_MINOR_UNITS
    with pytest.raises(InvalidArgument) as raised:
        create(invoicing, b2c(line_items=[LineFields("Half", 1, MAX_MINOR_UNITS // 2 + 1)] * 2))
    assert raised.value.field == "lineItems"
    with pytest.raises(InvalidArgument) as raised:  # the tax alone tips it over
        create(invoicing, b2c(line_items=[LineFields("Taxed", 1, MAX_MINOR_UNITS - 5, 0.001)]))
    assert raised.value.field == "lineItems"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**6).map(lambda n: n / 100),
            st.integers(MAX_MINOR_UNITS // 10**7, MAX_MINOR_UNITS),
            st.integers(0, 100_000).map(lambda n: n / 1000),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_money_near_2_to_the_53_is_exact_or_refused_never_rounded(invoicing, lines):
    """Each line and the totals, computed with exact fractions, are what is stored and read back;
    whatever passes 2^53-1 is a 400 naming the field instead."""
    expected = []
    for quantity, price, rate in lines:
        total = int(Fraction(repr(quantity)) * price + Fraction(1, 2))
        expected.append((total, int(total * Fraction(repr(rate)) / 100 + Fraction(1, 2))))
    fields = b2c(line_items=[LineFields(f"line {i}", q, p, r) for i, (q, p, r) in enumerate(lines)])
    try:
        invoice = create(invoicing, fields)
    except InvalidArgument as error:
        line_over = [i for i, (total, _) in enumerate(expected) if total > MAX_MINOR_UNITS]
        assert error.field == (f"lineItems[{line_over[0]}].quantity" if line_over else "lineItems")
        assert line_over or sum(total + tax for total, tax in expected) > MAX_MINOR_UNITS
        return
    read = invoicing.get_invoice(KEY, invoice.id).custom_properties
    assert [(line.total_price_in_cents, line.tax_amount_in_cents) for line in read.line_items] == expected
    subtotal, tax = sum(total for total, _ in expected), sum(tax for _, tax in expected)
    assert (read.subtotal_in_cents, read.tax_amount_in_cents, read.total_amount_in_cents) == (
        subtotal,
        tax,
        subtotal + tax,
    )
