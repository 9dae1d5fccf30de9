"""Invoices stored before the limits (more lines, longer text than a write now takes) still read,
list and render; only writes are held to the limits."""

import io
from decimal import Decimal

import pytest
from invoice_factory import an_invoice
from pypdf import PdfReader

from invoicing.adapters.repository import InvoiceRepository
from invoicing.api.mapping import invoice_view
from invoicing.domain.commands import InvoiceFields
from invoicing.domain.model import MAX_FREE_TEXT, MAX_LINES, BillTo, Invoice, LineItem
from invoicing.domain.money import line_amounts
from invoicing.queries import InvoiceFilter
from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import InvalidArgument

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")


def stored_past_the_limits(engine) -> Invoice:
    """A draft of MAX_LINES + 100 lines whose descriptions add up to more than the free text allows,
    written straight into the database as an earlier version of the service would have."""
    amounts = line_amounts(Decimal(1), 100, Decimal(0))
    lines = [
        LineItem(f"Line {i:03d} " + "x" * 100, Decimal(1), 100, Decimal(0), amounts) for i in range(MAX_LINES + 100)
    ]
    assert sum(len(line.description) for line in lines) > MAX_FREE_TEXT
    invoice = an_invoice(
        lines,
        id="inv_old",
        organization_id="org_a",
        status="draft",
        bill_to=BillTo(name="Zoë", email="zoe@example.com"),
        created_by="key_a",
        created_at=1,
        updated_at=1,
        notes="n" * 10_000,
    )
    with engine.begin() as connection:
        InvoiceRepository(connection, invoice_view).add(invoice)
    return invoice


def test_it_reads_lists_and_renders(invoicing, engine):
    invoice = stored_past_the_limits(engine)
    assert len(invoicing.get_invoice(KEY, invoice.id).custom_properties.line_items) == MAX_LINES + 100
    page = invoicing.list_invoices(KEY, InvoiceFilter(), 200, 0)
    assert [listed.id for listed in page.invoices] == [invoice.id]
    pdf = invoicing.invoice_pdf(KEY, invoice.id)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert f"Line {MAX_LINES + 99:03d}" in text


def test_a_change_must_bring_it_within_the_limits(invoicing, engine):
    invoice = stored_past_the_limits(engine)
    with pytest.raises(InvalidArgument) as refused:
        invoicing.update_invoice(KEY, invoice.id, InvoiceFields(notes="shorter"), "org_a")
    assert refused.value.field == "lineItems"
    cancelled = invoicing.cancel_invoice(KEY, invoice.id, "too long")  # transitions do not rewrite the content
    assert cancelled.status == "cancelled" and len(cancelled.line_items) == MAX_LINES + 100
    assert cancelled.notes == invoice.notes
