"""The message of an invoice email, built and parsed back as a mail client would read it."""

import email
import email.policy
import email.utils

import pytest
from invoice_factory import an_invoice, lines_of

from invoicing.adapters.mail_message import MessageComposer, mail_address
from invoicing.domain.email import OutboundEmail
from invoicing.domain.model import Issuer

PDF = b"%PDF-1.4 the invoice"
JAN_1_2026 = 1767225600000


def queued(kind: str = "invoice", **fields) -> OutboundEmail:
    values = {
        "id": "eml_01ABC",
        "organization_id": "org",
        "invoice_id": "inv_1",
        "kind": kind,
        "to": "zoe@example.com",
        "subject": "Invoice INV-2100-01-001 from Łódź <Works> & Co",
        "message_id": "<eml_01ABC@billing.example.com>",
        "created_at": JAN_1_2026,
        "next_attempt_at": JAN_1_2026,
    }
    return OutboundEmail(**{**values, **fields})


def composed(invoice, email_=None):
    composer = MessageComposer(mail_address("invoices@billing.example.com", "PORTAL_MAIL_FROM"))
    outgoing = composer(invoice, email_ or queued(), PDF)
    parsed = email.message_from_bytes(outgoing.message.as_bytes(), policy=email.policy.default)
    return outgoing, parsed, {part.get_content_type(): part for part in parsed.walk() if not part.is_multipart()}


ISSUER = Issuer(name="Łódź <Works> & Co", email="accounts@lodz.example")


def test_headers_name_the_issuer_and_stay_the_same_on_every_attempt():
    invoice = an_invoice(lines_of(3, "Audit", 35_667), currency="EUR", issuer=ISSUER, notes="Thanks")
    outgoing, message, _ = composed(invoice)
    assert (outgoing.id, outgoing.sender, outgoing.recipient) == (
        "eml_01ABC",
        "invoices@billing.example.com",
        "zoe@example.com",
    )
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Łódź <Works> & Co", "invoices@billing.example.com")
    assert message["Reply-To"] == "accounts@lodz.example" and message["To"] == "zoe@example.com"
    assert message["Subject"] == "Invoice INV-2100-01-001 from Łódź <Works> & Co"
    assert message["Message-ID"] == "<eml_01ABC@billing.example.com>"
    assert email.utils.parsedate_to_datetime(message["Date"]).timestamp() * 1000 == JAN_1_2026
    again = composed(invoice)[1]
    assert [(name, str(value)) for name, value in again.items()][:6] == [
        (name, str(value)) for name, value in message.items()
    ][:6]


def test_both_parts_carry_the_figures_and_the_html_escapes_what_the_invoice_says():
    invoice = an_invoice(
        lines_of(3, "Audit", 35_667), currency="EUR", issuer=ISSUER, notes='Pay by <script>alert("x")</script>'
    )
    _, message, parts = composed(invoice)
    assert message.get_content_type() == "multipart/mixed"
    assert [part.get_content_type() for part in message.iter_parts()] == ["multipart/alternative", "application/pdf"]
    text, html = parts["text/plain"].get_content(), parts["text/html"].get_content()
    for body in (text, html):
        assert "INV-2100-01-001" in body and "EUR 1,070.01" in body and "2100-01-01" in body
    assert 'Pay by <script>alert("x")</script>' in text and "Reply to this email" in text
    assert "<script>" not in html and "Pay by &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Łódź &lt;Works&gt; &amp; Co has sent you invoice" in html
    attachment = parts["application/pdf"]
    assert attachment.get_filename() == "INV-2100-01-001.pdf" and attachment.get_content() == PDF


def test_money_in_the_currencys_own_minor_unit_and_no_reply_to_without_an_issuer_email():
    invoice = an_invoice(lines_of(1, "Audit", 1_070), currency="JPY", organization_id="org_9")
    outgoing, message, parts = composed(invoice, queued(subject="Invoice INV-2100-01-001 from org_9"))
    assert "JPY 1,070" in parts["text/plain"].get_content() and "Notes" not in parts["text/plain"].get_content()
    assert message["Reply-To"] is None and message["From"].addresses[0].display_name == "org_9"


def test_a_reminder_says_so_and_when_the_invoice_was_due():
    invoice = an_invoice(lines_of(1, "Audit"), issuer=ISSUER, status="overdue")
    _, _, parts = composed(invoice, queued("reminder"))
    for body in (parts["text/plain"].get_content(), parts["text/html"].get_content()):
        assert "reminder about invoice" in body and "which was due on 2100-01-01" in body


@pytest.mark.parametrize("raw", ["", "invoices", "Invoices <invoices@example.com>", "@example.com", "a@"])
def test_the_from_address_must_be_a_bare_address(raw):
    with pytest.raises(SystemExit, match="PORTAL_MAIL_FROM must be an email address"):
        mail_address(raw, "PORTAL_MAIL_FROM")
