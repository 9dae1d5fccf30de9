"""Invoice emails: the entries of the outbox that carry an invoice to its recipient, their
lifecycle (queued → sent or failed) and the retry schedule. Plain Python.

An entry is written in the transaction that sends the invoice (or asks for a reminder), so it
exists exactly when that change was committed; a worker delivers it later (service_layer/email.py).
"""

import dataclasses

from invoicing.domain.model import AWAITING_EMPLOYER_PAYMENT, OVERDUE, SENT, Invoice
from portal_common.domain_errors import Conflict

QUEUED, DELIVERED, FAILED = EMAIL_STATUSES = ("queued", "sent", "failed")
INVOICE, REMINDER = EMAIL_KINDS = ("invoice", "reminder")
# The statuses (as read) of an invoice that may be emailed again as a reminder.
REMINDABLE = (SENT, OVERDUE, AWAITING_EMPLOYER_PAYMENT)
# An invoice's emails are listed in one answer: a bound on how many it may have, and on how many
# reminders one API key can make a relay of.
MAX_EMAILS_PER_INVOICE = 100

# The retry schedule of a temporary failure: 30 s after the first, doubling up to an hour, each
# delay up to JITTER above or below (so that emails that failed together do not retry together);
# given up once an attempt fails RETRY_FOR_MS after the email was queued. Every figure is
# multiplied by the retry scale (PORTAL_RETRY_SCALE, 1 in production).
FIRST_RETRY_MS = 30_000
MAX_RETRY_MS = 3_600_000
RETRY_FOR_MS = 24 * 3_600_000
JITTER = 0.2


def retry_delay(failures: int, scale: float, spread: float) -> int:
    """The delay (ms) after the `failures`th failed attempt; `spread` in [0, 1) places it within
    the jitter (0.5: the nominal delay)."""
    nominal = min(FIRST_RETRY_MS * 2 ** min(failures - 1, 32), MAX_RETRY_MS)
    return max(1, round(nominal * (1 + JITTER * (2 * spread - 1)) * scale))


class DeliveryFailed(Exception):
    """An attempt to deliver an email failed: `temporary` failures are retried, the others end it.
    `reply` is what the mail server answered, or what went wrong reaching it."""

    def __init__(self, reply: str, temporary: bool):
        super().__init__(reply)
        self.reply = reply
        self.temporary = temporary


@dataclasses.dataclass
class OutboundEmail:
    id: str
    organization_id: str
    invoice_id: str
    kind: str
    to: str
    subject: str
    # The Message-ID header, generated when the email is queued: the same on every attempt.
    message_id: str
    created_at: int
    # When a worker may next take it (while one holds it: when its hold expires).
    next_attempt_at: int
    status: str = QUEUED
    attempts: int = 0
    last_error: str | None = None
    sent_at: int | None = None

    def delivered(self, now: int) -> None:
        self.attempts += 1
        self.status, self.sent_at = DELIVERED, now

    def attempt_failed(self, failure: DeliveryFailed, now: int, scale: float, spread: float) -> None:
        """Records a failed attempt: a temporary failure is retried on the schedule until it has
        been retried for RETRY_FOR_MS (scaled); a permanent one fails the email at once."""
        self.attempts += 1
        self.last_error = failure.reply
        if failure.temporary and now - self.created_at < RETRY_FOR_MS * scale:
            self.next_attempt_at = now + retry_delay(self.attempts, scale, spread)
        else:
            self.status = FAILED


def sender_name(invoice: Invoice) -> str:
    """Who the email is from, by name: the issuer snapshotted on the invoice (the organization's
    profile), else the organization's id. On one line, whatever the name holds: it goes into
    headers (Subject, From)."""
    return " ".join((invoice.issuer.name if invoice.issuer else invoice.organization_id).split())


def subject(invoice: Invoice, kind: str) -> str:
    text = f"Invoice {invoice.number} from {sender_name(invoice)}"
    return f"Reminder: {text}" if kind == REMINDER else text


def check_remindable(invoice: Invoice, now: int, emails: int) -> None:
    """Whether an invoice may be emailed again now, having `emails` emails already."""
    status = invoice.status_at(now)
    if status not in REMINDABLE:
        raise Conflict(f"invoice {invoice.number} is {status}; reminders need one of {', '.join(REMINDABLE)}")
    if emails >= MAX_EMAILS_PER_INVOICE:
        raise Conflict(f"invoice {invoice.number} has {emails} emails, the most one invoice may have")
