"""A unit of work in memory for the use-case tests: invoices and their emails, written only on
commit (as cosmicpython's FakeUnitOfWork)."""

import copy

from invoicing.domain.email import QUEUED, OutboundEmail
from invoicing.domain.model import Invoice
from portal_common.outbox import MemoryEvents


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


class FakeEmails:
    def __init__(self, state: dict):
        self._emails: dict[str, OutboundEmail] = state.setdefault("emails", {})
        self._claims: dict[str, str] = state.setdefault("claims", {})

    def add(self, email: OutboundEmail) -> None:
        self._emails[email.id] = copy.deepcopy(email)

    def of_invoice(self, organization_id: str, invoice_id: str) -> list[OutboundEmail]:
        found = [e for e in self._emails.values() if (e.organization_id, e.invoice_id) == (organization_id, invoice_id)]
        return copy.deepcopy(sorted(found, key=lambda e: (e.created_at, e.id), reverse=True))

    def claim(self, worker: str, now: int, hold_until: int, batch: int) -> list[OutboundEmail]:
        due = sorted(
            (e for e in self._emails.values() if e.status == QUEUED and e.next_attempt_at <= now),
            key=lambda e: e.next_attempt_at,
        )[:batch]
        for email in due:
            email.next_attempt_at, self._claims[email.id] = hold_until, worker
        return copy.deepcopy(due)

    def save(self, email: OutboundEmail, worker: str) -> bool:
        if self._claims.get(email.id) != worker or self._emails[email.id].status != QUEUED:
            return False
        del self._claims[email.id]
        self._emails[email.id] = copy.deepcopy(email)
        return True

    def release(self, worker: str, now: int) -> int:
        held = [email_id for email_id, holder in self._claims.items() if holder == worker]
        for email_id in held:
            self._emails[email_id].next_attempt_at = now
            del self._claims[email_id]
        return len(held)

    def next_due(self) -> int | None:
        return min((e.next_attempt_at for e in self._emails.values() if e.status == QUEUED), default=None)


class FakeUnitOfWork:
    """Works on a copy of the committed state; commit() makes the copy the committed state."""

    def __init__(self, committed: dict, read_only: bool = False):
        self.committed = committed

    def __enter__(self):
        self._working = copy.deepcopy(self.committed)
        self.invoices = FakeInvoices(self._working)
        self.emails = FakeEmails(self._working)
        self.events = MemoryEvents()
        return self

    def commit(self) -> None:
        # The events of committed units of work, in order, under "recorded".
        self._working["recorded"] = self._working.get("recorded", []) + self.events.added
        self.events = MemoryEvents()
        self.committed.update(self._working)

    def __exit__(self, *exc) -> None:
        pass
