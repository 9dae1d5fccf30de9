"""Reads and writes invoices within one unit of work.

A record is its row: the columns that lists filter and sort on, and the rest in `record`, a JSON
document in the format below (DOCUMENT_VERSION; a change of it comes with a migration). The row's
`view` is a derived cache for the hot reads, built from the record by the function the server
gives (the API's serialization: only api/ knows protobuf); it is never read back here.
"""

from decimal import Decimal
from typing import Callable

import sqlalchemy as sa

from invoicing.adapters.tables import invoice_counters, invoice_counts, invoices
from invoicing.domain.model import ADDRESS_FIELDS, UNPAID, Address, BillTo, Invoice, Issuer, LineItem
from invoicing.domain.money import LineAmounts, Totals
from portal_common import db

# Version 1 grew optional keys since (issue 11: bill_to's tax_id and contact_name, the issuer's
# legal_name, phone and website), read as None where a document lacks them: documents written
# before still read, so no migration was needed.
DOCUMENT_VERSION = 1
# The invoice fields stored in columns of their own; the document holds the others.
_COLUMNS = ("id", "organization_id", "number", "type", "status", "issue_date", "created_at", "updated_at")
_RECORD = sa.select(*(column for column in invoices.c if column.name != "view"))
# The invoice fields the document holds as they are (the others are nested or typed).
_PLAIN_FIELDS = (
    "notes",
    "custom_fields",
    "created_by",
    "sent_date",
    "sent_to",
    "paid_date",
    "payment_method",
    "transaction_ref",
    "cancelled_date",
    "cancellation_reason",
)

RenderView = Callable[[Invoice], bytes]


def _address(address: Address) -> dict:
    return {name: getattr(address, name) for name in ADDRESS_FIELDS}


def document(invoice: Invoice) -> dict:
    """The part of the record that has no column (format DOCUMENT_VERSION)."""
    issuer = invoice.issuer
    return {
        "version": DOCUMENT_VERSION,
        "due_date": invoice.due_date,
        "payment_terms": invoice.payment_terms,
        "currency": invoice.currency,
        # Decimals as their exact text ("1.5"), amounts as whole minor units.
        "line_items": [
            {
                "description": line.description,
                "quantity": str(line.quantity),
                "unit_price_cents": line.unit_price_cents,
                "tax_rate_percent": str(line.tax_rate_percent),
                "total_cents": line.amounts.total_cents,
                "tax_cents": line.amounts.tax_cents,
                "transaction_id": line.transaction_id,
                "employee_contact_id": line.employee_contact_id,
                "employee_name": line.employee_name,
            }
            for line in invoice.line_items
        ],
        "totals": {
            "subtotal_cents": invoice.totals.subtotal_cents,
            "tax_cents": invoice.totals.tax_cents,
            "total_cents": invoice.totals.total_cents,
        },
        "bill_to": {
            "name": invoice.bill_to.name,
            "email": invoice.bill_to.email,
            "address": _address(invoice.bill_to.address),
            "tax_id": invoice.bill_to.tax_id,
            "contact_name": invoice.bill_to.contact_name,
        },
        "issuer": issuer
        and {
            "name": issuer.name,
            "email": issuer.email,
            "address": _address(issuer.address),
            "tax_id": issuer.tax_id,
            "legal_name": issuer.legal_name,
            "phone": issuer.phone,
            "website": issuer.website,
        },
        **{name: getattr(invoice, name) for name in _PLAIN_FIELDS},
    }


def _invoice(row) -> Invoice:
    doc = row.record
    if doc["version"] != DOCUMENT_VERSION:
        raise ValueError(f"invoice {row.id} is stored in document version {doc['version']}; migrate the database")
    issuer = doc["issuer"]
    return Invoice(
        **{name: getattr(row, name) for name in _COLUMNS},
        due_date=doc["due_date"],
        payment_terms=doc["payment_terms"],
        currency=doc["currency"],
        line_items=[
            LineItem(
                description=line["description"],
                quantity=Decimal(line["quantity"]),
                unit_price_cents=line["unit_price_cents"],
                tax_rate_percent=Decimal(line["tax_rate_percent"]),
                amounts=LineAmounts(line["total_cents"], line["tax_cents"]),
                transaction_id=line["transaction_id"],
                employee_contact_id=line["employee_contact_id"],
                employee_name=line["employee_name"],
            )
            for line in doc["line_items"]
        ],
        totals=Totals(**doc["totals"]),
        bill_to=BillTo(
            name=doc["bill_to"]["name"],
            contact_id=row.bill_to_contact_id,
            crm_organization_id=row.bill_to_crm_organization_id,
            email=doc["bill_to"]["email"],
            address=Address(**doc["bill_to"]["address"]),
            # Added to version 1 by issue 11 (absent from documents written before: None).
            tax_id=doc["bill_to"].get("tax_id"),
            contact_name=doc["bill_to"].get("contact_name"),
        ),
        issuer=issuer
        and Issuer(
            name=issuer["name"],
            email=issuer["email"],
            address=Address(**issuer["address"]),
            tax_id=issuer["tax_id"],
            legal_name=issuer.get("legal_name"),
            phone=issuer.get("phone"),
            website=issuer.get("website"),
        ),
        **{name: doc[name] for name in _PLAIN_FIELDS},
    )


class InvoiceRepository(db.Repository):
    """Locking (see db.Repository) makes concurrent transitions of one invoice queue instead of both
    succeeding."""

    def __init__(self, connection: sa.Connection, render_view: RenderView, locking: bool = False):
        super().__init__(connection, locking)
        self._render_view = render_view
        # The count_key of each invoice read in this unit of work, to move its count on save.
        self._counted_as: dict[str, tuple[str, str]] = {}

    def _row(self, invoice: Invoice) -> dict:
        return {
            **{name: getattr(invoice, name) for name in _COLUMNS},
            "overdue_at": invoice.overdue_at,
            "bill_to_contact_id": invoice.bill_to.contact_id,
            "bill_to_crm_organization_id": invoice.bill_to.crm_organization_id,
            "record": document(invoice),
            "view": self._render_view(invoice),
        }

    def next_sequence(self, organization_id: str, period: str) -> int:
        """Takes the next number of the organization's period. The counter row stays locked (and
        its increment invisible) until this transaction ends, so concurrent creates queue on it and
        a rolled-back create gives its number back."""
        return db.increment(
            self._connection, invoice_counters, {"organization_id": organization_id, "period": period}, "last_number", 1
        )

    def add(self, invoice: Invoice) -> None:
        self._connection.execute(invoices.insert().values(**self._row(invoice)))
        self._count(invoice.organization_id, invoice.count_key, +1)

    def save(self, invoice: Invoice) -> None:
        """Writes an invoice read in this unit of work."""
        self._connection.execute(invoices.update().where(invoices.c.id == invoice.id).values(**self._row(invoice)))
        counted_as = self._counted_as[invoice.id]
        if invoice.count_key != counted_as:
            self._count(invoice.organization_id, counted_as, -1)
            self._count(invoice.organization_id, invoice.count_key, +1)
            self._counted_as[invoice.id] = invoice.count_key

    def _count(self, organization_id: str, key: tuple[str, str], delta: int) -> None:
        status, type_ = key
        db.increment(
            self._connection,
            invoice_counts,
            {"organization_id": organization_id, "status": status, "type": type_},
            "count",
            delta,
        )

    def _loaded(self, row) -> Invoice:
        invoice = _invoice(row)
        self._counted_as[invoice.id] = invoice.count_key
        return invoice

    def get(self, organization_id: str, invoice_id: str) -> Invoice | None:
        query = _RECORD.where(invoices.c.organization_id == organization_id, invoices.c.id == invoice_id)
        row = self._connection.execute(self._reading(query)).one_or_none()
        return self._loaded(row) if row is not None else None

    def past_due(self, now: int, batch: int) -> list[Invoice]:
        """Up to `batch` unpaid invoices of any organization whose due date has passed."""
        query = (
            _RECORD.where(invoices.c.status.in_(UNPAID), invoices.c.overdue_at <= now)
            .order_by(invoices.c.overdue_at)
            .limit(batch)
        )
        return [self._loaded(row) for row in self._connection.execute(self._reading(query))]
