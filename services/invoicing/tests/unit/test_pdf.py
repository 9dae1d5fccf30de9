"""The PDF's figures in each currency's own minor unit (ISO 4217), read back with pypdf."""
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from invoicing.adapters.pdf import render_invoice
from invoicing.domain.model import BillTo, Invoice, LineItem
from invoicing.domain.money import line_amounts, totals


def invoice_in(currency: str, unit_price: int) -> Invoice:
    line = LineItem("Work", Decimal(1), unit_price, Decimal(0), line_amounts(Decimal(1), unit_price, Decimal(0)))
    return Invoice(id="inv_1", organization_id="org", number="INV-2025-01-001", type="b2c_single", status="sent",
                   issue_date=1735689600000, due_date=1738281600000, payment_terms="net30", currency=currency,
                   line_items=[line], totals=totals([line.amounts]), bill_to=BillTo(name="Zoë"), created_by="key",
                   created_at=0, updated_at=0)


def pdf_text(invoice: Invoice) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(render_invoice(invoice))).pages)


@pytest.mark.parametrize("currency,unit_price,printed", [
    ("USD", 107000, "USD 1,070.00"), ("JPY", 107000, "JPY 107,000"), ("KRW", 5, "KRW 5"),
    ("KWD", 1070, "KWD 1.070"), ("BHD", 9_007_199_254_740_991, "BHD 9,007,199,254,740.991"),
])
def test_totals_are_printed_with_the_currencys_minor_unit(currency, unit_price, printed):
    assert printed in pdf_text(invoice_in(currency, unit_price))


def test_a_stored_currency_the_shared_table_leaves_out_is_printed_in_minor_units():
    # CLF (4 digits) was accepted before the services shared one ISO 4217 table.
    text = pdf_text(invoice_in("CLF", 12345))
    assert "CLF 12,345 minor units" in text
