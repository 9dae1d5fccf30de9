"""Reads and writes invoices within one connection (one unit of work)."""
import sqlalchemy as sa

from invoicing.adapters.tables import invoice_counters, invoice_counts, invoices
from invoicing.adapters.views import invoice_from_message, invoice_message
from invoicing.domain.model import UNPAID, Invoice
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal_common import db

_VIEW_BY_ID = sa.select(invoices.c.view).where(
    invoices.c.organization_id == sa.bindparam("organization_id"), invoices.c.id == sa.bindparam("invoice_id"))


def _row(invoice: Invoice) -> dict:
    return {
        "id": invoice.id, "organization_id": invoice.organization_id, "number": invoice.number,
        "type": invoice.type, "status": invoice.status, "issue_date": invoice.issue_date,
        "overdue_at": invoice.overdue_at, "bill_to_contact_id": invoice.bill_to.contact_id,
        "bill_to_crm_organization_id": invoice.bill_to.crm_organization_id,
        "created_at": invoice.created_at, "updated_at": invoice.updated_at,
        "view": invoice_message(invoice).SerializeToString(),
    }


class InvoiceRepository(db.Repository):
    """Locking (see db.Repository) makes concurrent transitions of one invoice queue instead of both
    succeeding."""

    def __init__(self, connection: sa.Connection, locking: bool = False):
        super().__init__(connection, locking)
        # The count_key of each invoice read in this unit of work, to move its count on save.
        self._counted_as: dict[str, tuple[str, str]] = {}

    def next_sequence(self, organization_id: str, period: str) -> int:
        """Takes the next number of the organization's period. The counter row stays locked (and
        its increment invisible) until this transaction ends, so concurrent creates queue on it and
        a rolled-back create gives its number back."""
        return db.increment(self._connection, invoice_counters,
                            {"organization_id": organization_id, "period": period}, "last_number", 1)

    def add(self, invoice: Invoice) -> None:
        self._connection.execute(invoices.insert().values(**_row(invoice)))
        self._count(invoice.organization_id, invoice.count_key, +1)

    def save(self, invoice: Invoice) -> None:
        """Writes an invoice read in this unit of work."""
        self._connection.execute(invoices.update().where(invoices.c.id == invoice.id).values(**_row(invoice)))
        counted_as = self._counted_as[invoice.id]
        if invoice.count_key != counted_as:
            self._count(invoice.organization_id, counted_as, -1)
            self._count(invoice.organization_id, invoice.count_key, +1)
            self._counted_as[invoice.id] = invoice.count_key

    def _count(self, organization_id: str, key: tuple[str, str], delta: int) -> None:
        status, type_ = key
        db.increment(self._connection, invoice_counts,
                     {"organization_id": organization_id, "status": status, "type": type_}, "count", delta)

    def _loaded(self, view: bytes) -> Invoice:
        invoice = invoice_from_message(pb.Invoice.FromString(view))
        self._counted_as[invoice.id] = invoice.count_key
        return invoice

    def get(self, organization_id: str, invoice_id: str) -> Invoice | None:
        view = self._connection.execute(self._reading(_VIEW_BY_ID), {"organization_id": organization_id,
                                                "invoice_id": invoice_id}).scalar_one_or_none()
        return self._loaded(view) if view is not None else None

    def past_due(self, now: int, batch: int) -> list[Invoice]:
        """Up to `batch` unpaid invoices of any organization whose due date has passed."""
        query = (sa.select(invoices.c.view).where(invoices.c.status.in_(UNPAID), invoices.c.overdue_at <= now)
                 .order_by(invoices.c.overdue_at).limit(batch))
        return [self._loaded(view) for view in self._connection.scalars(self._reading(query))]
