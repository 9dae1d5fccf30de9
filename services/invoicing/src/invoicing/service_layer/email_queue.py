"""Queuing invoice emails inside a use case's unit of work (the outbox), and waking the sender.

The use case adds the email in the transaction that changes the invoice, so the email exists
exactly when the change was committed; once it has committed, `queued()` wakes this process's
sender at once (other replicas find it when they next look, service_layer/email.py).
"""

import threading
from typing import Protocol

from invoicing.domain.email import OutboundEmail, subject
from invoicing.domain.model import Invoice
from portal_common.ids import new_id


class OutboundEmails(Protocol):
    """The outbox of one unit of work (adapters/outbox.py; a fake in the unit tests)."""

    def add(self, email: OutboundEmail) -> None: ...

    def of_invoice(self, organization_id: str, invoice_id: str) -> list[OutboundEmail]: ...

    def claim(self, worker: str, now: int, hold_until: int, batch: int) -> list[OutboundEmail]: ...

    def save(self, email: OutboundEmail, worker: str) -> bool: ...

    def release(self, worker: str, now: int) -> int: ...

    def next_due(self) -> int | None: ...


class EmailQueue:
    def __init__(self, message_id_domain: str):
        self._domain = message_id_domain
        # Set when an email was queued in this process: what the sender's worker waits on.
        self.pending = threading.Event()

    def add(self, emails: OutboundEmails, invoice: Invoice, to: str, kind: str, now: int) -> OutboundEmail:
        email_id = new_id("eml")
        email = OutboundEmail(
            id=email_id,
            organization_id=invoice.organization_id,
            invoice_id=invoice.id,
            kind=kind,
            to=to,
            subject=subject(invoice, kind),
            message_id=f"<{email_id}@{self._domain}>",
            created_at=now,
            next_attempt_at=now,
        )
        emails.add(email)
        return email

    def queued(self) -> None:
        """Called once the transaction that queued an email has committed."""
        self.pending.set()
