"""Invoice emails in the domain: the retry schedule, an email's outcomes, subjects, reminders."""

import pytest
from invoice_factory import an_invoice

from invoicing.domain.email import (
    FIRST_RETRY_MS,
    MAX_EMAILS_PER_INVOICE,
    MAX_RETRY_MS,
    RETRY_FOR_MS,
    DeliveryFailed,
    OutboundEmail,
    check_remindable,
    retry_delay,
    subject,
)
from invoicing.domain.model import Issuer
from portal_common.domain_errors import Conflict

TEMPORARY, PERMANENT = DeliveryFailed("421 try later", True), DeliveryFailed("550 no such user", False)


def an_email(**fields) -> OutboundEmail:
    values = {
        "id": "eml_1",
        "organization_id": "org",
        "invoice_id": "inv_1",
        "kind": "invoice",
        "to": "zoe@example.com",
        "subject": "Invoice INV-2100-01-001 from Acme",
        "message_id": "<eml_1@example.com>",
        "created_at": 1_000,
        "next_attempt_at": 1_000,
    }
    return OutboundEmail(**{**values, **fields})


def test_the_delays_double_from_30_s_up_to_an_hour():
    nominal = [retry_delay(failures, 1, 0.5) for failures in range(1, 10)]
    assert nominal == [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000]
    assert retry_delay(10_000, 1, 0.5) == MAX_RETRY_MS  # no overflow however many failures


def test_jitter_spreads_each_delay_within_a_fifth_and_the_scale_shrinks_it():
    assert retry_delay(1, 1, 0.0) == 24_000 and retry_delay(1, 1, 0.999999) == pytest.approx(36_000, abs=1)
    assert retry_delay(1, 0.001, 0.5) == 30 and retry_delay(8, 0.001, 0.5) == 3_600
    assert retry_delay(1, 1e-9, 0.0) == 1  # never zero: a retry never spins


def test_a_temporary_failure_is_retried_for_24_hours_then_the_email_fails():
    email = an_email()
    now, attempts = 1_000, 0
    while email.status == "queued":
        email.attempt_failed(TEMPORARY, now, 1, 0.5)
        attempts += 1
        assert email.attempts == attempts and email.last_error == "421 try later"
        if email.status == "queued":
            assert email.next_attempt_at > now
            now = email.next_attempt_at
    assert email.status == "failed" and now - email.created_at >= RETRY_FOR_MS
    # About 30 attempts: 30 s doubling to an hour, then hourly, until 24 hours have passed.
    assert 25 <= attempts <= 35 and email.sent_at is None


def test_the_scale_shortens_the_whole_schedule():
    email = an_email()
    email.attempt_failed(TEMPORARY, 1_000 + RETRY_FOR_MS // 1000 - 1, 0.001, 0.5)
    assert email.status == "queued"
    email.attempt_failed(TEMPORARY, 1_000 + RETRY_FOR_MS // 1000, 0.001, 0.5)
    assert email.status == "failed"


def test_a_permanent_failure_fails_at_once_and_a_delivery_records_when():
    refused = an_email()
    refused.attempt_failed(PERMANENT, 2_000, 1, 0.5)
    assert (refused.status, refused.attempts, refused.last_error) == ("failed", 1, "550 no such user")
    delivered = an_email()
    delivered.attempt_failed(TEMPORARY, 2_000, 1, 0.5)
    assert delivered.next_attempt_at == 2_000 + FIRST_RETRY_MS
    delivered.delivered(40_000)
    assert (delivered.status, delivered.attempts, delivered.sent_at) == ("sent", 2, 40_000)
    assert delivered.last_error == "421 try later"  # what happened before stays visible


def test_the_subject_names_the_issuer_or_else_the_organization():
    issued = an_invoice(issuer=Issuer(name="Łódź Works"))
    assert subject(issued, "invoice") == "Invoice INV-2100-01-001 from Łódź Works"
    assert subject(issued, "reminder") == "Reminder: Invoice INV-2100-01-001 from Łódź Works"
    assert subject(an_invoice(organization_id="org_7"), "invoice") == "Invoice INV-2100-01-001 from org_7"
    folded = an_invoice(issuer=Issuer(name="Acme\r\nBcc: victim@example.com"))
    assert subject(folded, "invoice") == "Invoice INV-2100-01-001 from Acme Bcc: victim@example.com"


@pytest.mark.parametrize("status", ["sent", "awaiting_employer_payment"])
def test_open_invoices_may_be_reminded_up_to_the_bound(status):
    invoice = an_invoice(status=status)
    check_remindable(invoice, 0, MAX_EMAILS_PER_INVOICE - 1)
    with pytest.raises(Conflict, match="100 emails"):
        check_remindable(invoice, 0, MAX_EMAILS_PER_INVOICE)
    # Past its due date it reads overdue, which may be reminded too.
    check_remindable(invoice, invoice.overdue_at, 0)


@pytest.mark.parametrize("status", ["draft", "paid", "cancelled"])
def test_other_invoices_may_not(status):
    with pytest.raises(Conflict, match=f"is {status}; reminders need one of sent, overdue, awaiting_employer_payment"):
        check_remindable(an_invoice(status=status), 0, 0)
