"""The message of an invoice email, built when it is delivered from the stored invoice and its
queue row: multipart/alternative plain text and HTML (templates/invoice_email.*, jinja2, the HTML
autoescaped) with the invoice's PDF attached. Every attempt builds the same message: the headers
come from the queue row (Message-ID, Date: when it was queued) and the invoice, which no longer
changes once sent (only its status does, and the PDF shows it). Only the MIME boundaries are
drawn anew: a fixed one could be written into the notes to end a part early.
"""

import datetime
import email.errors
import email.utils
from email.headerregistry import Address
from email.message import EmailMessage

import jinja2

from invoicing.domain.email import REMINDER, OutboundEmail, sender_name
from invoicing.domain.model import OVERDUE, Invoice
from invoicing.service_layer.email import OutgoingMessage
from portal_common.currencies import format_money

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("invoicing", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def mail_address(raw: str, name: str) -> Address:
    """A bare address (`invoices@example.com`) as configured in `name`; SystemExit otherwise."""
    try:
        address = Address(addr_spec=raw.strip())
    except (ValueError, IndexError, TypeError, email.errors.MessageError) as error:  # the header parser's
        raise SystemExit(f"{name} must be an email address such as invoices@example.com: {error}") from None
    if not address.username or not address.domain:
        raise SystemExit(f"{name} must be an email address such as invoices@example.com, got {raw!r}")
    return address


def _day(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d")


class MessageComposer:
    def __init__(self, mail_from: Address):
        self._from = mail_from

    def __call__(self, invoice: Invoice, queued: OutboundEmail, pdf: bytes) -> OutgoingMessage:
        filename = f"{invoice.number}.pdf"
        reply_to = invoice.issuer.email if invoice.issuer else None
        values = {
            "reminder": queued.kind == REMINDER,
            "overdue": invoice.status == OVERDUE,
            "issuer": sender_name(invoice),
            "number": invoice.number,
            "amount_due": format_money(invoice.totals.total_cents, invoice.currency),
            "due_date": _day(invoice.due_date),
            "notes": invoice.notes,
            "filename": filename,
            "reply_to": reply_to,
        }
        message = EmailMessage()
        message["From"] = Address(sender_name(invoice), self._from.username, self._from.domain)
        message["To"] = queued.to
        if reply_to:
            message["Reply-To"] = reply_to
        message["Subject"] = queued.subject
        message["Date"] = email.utils.format_datetime(
            datetime.datetime.fromtimestamp(queued.created_at / 1000, datetime.UTC)
        )
        message["Message-ID"] = queued.message_id
        message.set_content(_TEMPLATES.get_template("invoice_email.txt").render(values))
        message.add_alternative(_TEMPLATES.get_template("invoice_email.html").render(values), subtype="html")
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
        return OutgoingMessage(queued.id, self._from.addr_spec, queued.to, message)
