"""What a client asks of an invoice, as the api layer reads it from either of the seed's shapes:
typed, with None meaning "not given". Field paths in errors are these names (`line_items[0].quantity`);
the api layer turns them into the client's JSON paths."""

import dataclasses

from invoicing.domain.model import Address, Invoice, Issuer, LineItem


@dataclasses.dataclass
class LineFields:
    """A line as a request gives it."""

    description: str | None = None
    quantity: float | None = None
    unit_price_cents: int | None = None
    tax_rate_percent: float | None = None
    total_price_cents: int | None = None
    tax_amount_cents: int | None = None
    transaction_id: str | None = None
    employee_contact_id: str | None = None

    @classmethod
    def of(cls, line: LineItem) -> "LineFields":
        """A stored line as if a client had given it again."""
        return cls(
            line.description,
            float(line.quantity),
            line.unit_price_cents,
            float(line.tax_rate_percent),
            transaction_id=line.transaction_id,
            employee_contact_id=line.employee_contact_id,
        )


@dataclasses.dataclass
class BillToFields:
    contact_id: str | None = None
    crm_organization_id: str | None = None
    name: str | None = None
    email: str | None = None
    address: Address = Address()


@dataclasses.dataclass
class InvoiceFields:
    """The invoice fields a create gives, or the changes an update gives: one typed object for both."""

    type: str | None = None
    issue_date: float | None = None
    due_date: float | None = None
    currency: str | None = None
    payment_terms: str | None = None
    line_items: list[LineFields] | None = None
    bill_to: BillToFields | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    custom_fields: dict | None = None
    subtotal_cents: int | None = None
    tax_amount_cents: int | None = None
    total_amount_cents: int | None = None

    def over(self, invoice: Invoice) -> "InvoiceFields":
        """These changes applied to a stored invoice: the whole invoice as if a client had given all
        of it again, so that it is checked again as a whole."""
        bill_to = invoice.bill_to
        merged = InvoiceFields(
            type=invoice.type,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            currency=invoice.currency,
            payment_terms=invoice.payment_terms,
            issuer=invoice.issuer,
            notes=invoice.notes,
            custom_fields=invoice.custom_fields,
            line_items=[LineFields.of(line) for line in invoice.line_items],
            bill_to=BillToFields(
                bill_to.contact_id, bill_to.crm_organization_id, bill_to.name, bill_to.email, bill_to.address
            ),
        )
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None:
                setattr(merged, field.name, value)
        if self.due_date is None and (self.issue_date is not None or self.payment_terms is not None):
            merged.due_date = None  # follows the new issue date or terms
        return merged

    @property
    def rechecks_parties(self) -> bool:
        """Whether the bill-to party and the lines' employees must be asked of the CRM again."""
        return self.type is not None or self.bill_to is not None or self.line_items is not None
