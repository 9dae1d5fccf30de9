"""Invoice rules: numbering, payment terms and due dates, overdue, the lifecycle table."""

from decimal import Decimal

import pytest

from invoicing.domain.model import (
    AWAITING_EMPLOYER_PAYMENT,
    B2B_CONSOLIDATED,
    B2C_SINGLE,
    CANCELLED,
    DAY_MS,
    DRAFT,
    MAX_TIMESTAMP,
    OVERDUE,
    PAID,
    SENT,
    STATUSES,
    TRANSITIONS,
    BillTo,
    Invoice,
    LineItem,
    due_date,
    invoice_number,
    invoice_period,
    overdue_from,
)
from invoicing.domain.money import line_amounts, totals
from portal_common.domain_errors import Conflict, InvalidArgument

JAN_1_2025 = 1735689600000  # 2025-01-01T00:00:00Z


def test_numbers_have_three_digits_and_widen_past_999():
    assert invoice_number("2025-01", 1) == "INV-2025-01-001"
    assert invoice_number("2025-01", 999) == "INV-2025-01-999"
    assert invoice_number("2025-01", 1000) == "INV-2025-01-1000"


def test_the_period_is_the_utc_month_of_the_issue_date():
    assert invoice_period(JAN_1_2025) == "2025-01"
    assert invoice_period(JAN_1_2025 - 1) == "2024-12"
    assert invoice_period(JAN_1_2025 + 31 * DAY_MS - 1) == "2025-01"


@pytest.mark.parametrize(
    "terms,days", [("due_on_receipt", 0), ("net7", 7), ("net15", 15), ("net30", 30), ("net60", 60), ("net90", 90)]
)
def test_the_due_date_follows_from_the_issue_date_and_terms(terms, days):
    assert due_date(JAN_1_2025, terms, None) == JAN_1_2025 + days * DAY_MS
    # Any time on the due day is consistent; the day before or after is not.
    assert due_date(JAN_1_2025, terms, JAN_1_2025 + days * DAY_MS + 3600_000) == JAN_1_2025 + days * DAY_MS + 3600_000
    for wrong in (JAN_1_2025 + (days - 1) * DAY_MS, JAN_1_2025 + (days + 1) * DAY_MS):
        with pytest.raises(InvalidArgument) as raised:
            due_date(JAN_1_2025, terms, wrong)
        assert raised.value.field == "due_date"


def test_the_seeds_example_dates_agree():
    assert due_date(1704067200000, "net30", 1706659200000) == 1706659200000


def test_an_invoice_is_overdue_once_its_due_day_has_ended():
    due = JAN_1_2025 + 30 * DAY_MS + 5000
    assert overdue_from(due) == JAN_1_2025 + 31 * DAY_MS


def invoice(status=DRAFT, type_=B2C_SINGLE, due=JAN_1_2025 + 30 * DAY_MS) -> Invoice:
    line = LineItem("Work", Decimal(1), 100, Decimal(0), line_amounts(Decimal(1), 100, Decimal(0)))
    return Invoice(
        id="inv_1",
        organization_id="org",
        number="INV-2025-01-001",
        type=type_,
        status=status,
        issue_date=JAN_1_2025,
        due_date=due,
        payment_terms="net30",
        currency="EUR",
        line_items=[line],
        totals=totals([line.amounts]),
        bill_to=BillTo(name="Zoë"),
        created_by="key",
        created_at=0,
        updated_at=0,
    )


BEFORE_DUE = JAN_1_2025 + DAY_MS
AFTER_DUE = JAN_1_2025 + 40 * DAY_MS
ACTIONS = {
    "send": lambda i, now: i.send(now, "zoe@example.com", now),
    "pay": lambda i, now: i.pay(now, "card", "tx-1", now),
    "cancel": lambda i, now: i.cancel("duplicate", now),
}
RESULT = {"send": SENT, "pay": PAID, "cancel": CANCELLED}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
def test_the_lifecycle_table(status, action):
    subject = invoice(status)
    if status in TRANSITIONS[action]:
        ACTIONS[action](subject, BEFORE_DUE)
        assert subject.status == RESULT[action] and subject.updated_at == BEFORE_DUE
    else:
        with pytest.raises(Conflict, match=f"is {status}"):
            ACTIONS[action](subject, BEFORE_DUE)
        assert subject.status == status


def test_the_table_is_what_the_issue_asks():
    assert TRANSITIONS == {
        "send": (DRAFT,),
        "pay": (SENT, OVERDUE, AWAITING_EMPLOYER_PAYMENT),
        "cancel": (DRAFT, SENT, OVERDUE, AWAITING_EMPLOYER_PAYMENT),
    }


def test_a_sent_consolidated_invoice_awaits_the_employers_payment():
    subject = invoice(type_=B2B_CONSOLIDATED)
    subject.send(BEFORE_DUE, "hr@acme.example", BEFORE_DUE)
    assert subject.status == AWAITING_EMPLOYER_PAYMENT
    assert (subject.sent_date, subject.sent_to) == (BEFORE_DUE, "hr@acme.example")


@pytest.mark.parametrize("status", [SENT, AWAITING_EMPLOYER_PAYMENT])
def test_unpaid_invoices_read_as_overdue_after_the_due_day_and_can_still_be_paid(status):
    subject = invoice(status)
    assert subject.status_at(BEFORE_DUE) == status
    assert subject.status_at(AFTER_DUE) == OVERDUE
    subject.pay(AFTER_DUE, "bank_transfer", None, AFTER_DUE)
    assert subject.status == PAID and subject.status_at(AFTER_DUE + DAY_MS) == PAID


def test_drafts_paid_and_cancelled_invoices_are_never_overdue():
    for status in (DRAFT, PAID, CANCELLED):
        assert invoice(status).status_at(AFTER_DUE) == status


def test_only_drafts_change():
    invoice(DRAFT).require_draft()
    for status in (SENT, PAID, CANCELLED, OVERDUE, AWAITING_EMPLOYER_PAYMENT):
        with pytest.raises(Conflict):
            invoice(status).require_draft()


@pytest.mark.parametrize("terms, allowed", [("due_on_receipt", True), ("net30", False)])
def test_a_due_date_past_the_year_9999_is_refused(terms, allowed):
    last_day = MAX_TIMESTAMP - DAY_MS + 1
    if allowed:
        assert due_date(last_day, terms, None) == last_day
    else:
        with pytest.raises(InvalidArgument) as refused:
            due_date(last_day, terms, None)
        assert refused.value.field == "issue_date" and "9999" in refused.value.message
