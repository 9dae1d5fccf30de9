"""The PDF's figures in each currency's own minor unit (ISO 4217), read back with pypdf; the
largest invoice the limits allow; a render that stops when told to."""

import dataclasses
import io

import pytest
from invoice_factory import an_invoice, lines_of
from pypdf import PdfReader

from invoicing.adapters.pdf import RenderStopped, render_invoice
from invoicing.domain.model import MAX_FREE_TEXT, MAX_LINES, Invoice


def invoice_in(currency: str, unit_price: int) -> Invoice:
    return an_invoice(
        lines_of(1, "Work", unit_price),
        number="INV-2025-01-001",
        issue_date=1735689600000,
        due_date=1738281600000,
        payment_terms="net30",
        currency=currency,
    )


def pdf_text(invoice: Invoice) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(render_invoice(invoice))).pages)


@pytest.mark.parametrize(
    "currency,unit_price,printed",
    [
        ("USD", 107000, "USD 1,070.00"),
        ("JPY", 107000, "JPY 107,000"),
        ("KRW", 5, "KRW 5"),
        ("KWD", 1070, "KWD 1.070"),
        ("BHD", 9_007_199_254_740_991, "BHD 9,007,199,254,740.991"),
    ],
)
def test_totals_are_printed_with_the_currencys_minor_unit(currency, unit_price, printed):
    assert printed in pdf_text(invoice_in(currency, unit_price))


def test_a_stored_currency_the_shared_table_leaves_out_is_printed_in_minor_units():
    # CLF (4 digits) was accepted before the services shared one ISO 4217 table.
    text = pdf_text(invoice_in("CLF", 12345))
    assert "CLF 12,345 minor units" in text


def largest_render() -> Invoice:
    """Within the limits, the most work for the renderer: every line, the free text on the
    descriptions, Latin and CJK alternating at every character (a font switch each)."""
    line = invoice_in("EUR", 100).line_items[0]
    per_line = MAX_FREE_TEXT // MAX_LINES
    lines = [dataclasses.replace(line, description=("a日" * per_line)[:per_line]) for _ in range(MAX_LINES)]
    return dataclasses.replace(invoice_in("EUR", 100), line_items=lines)


def test_a_render_asks_to_keep_going_between_rows_and_pages_and_stops_when_told():
    invoice = largest_render()
    asked = []
    render_invoice(invoice, lambda: asked.append(1) or True)
    assert len(asked) > MAX_LINES  # every row, then every page
    for stop_at in (1, MAX_LINES // 2, len(asked)):
        calls: list[int] = []

        def keep_going(calls=calls, stop_at=stop_at) -> bool:
            calls.append(1)
            return len(calls) < stop_at

        with pytest.raises(RenderStopped):
            render_invoice(invoice, keep_going)
        assert len(calls) == stop_at  # stopped at the first "no"


def test_the_largest_render_is_deterministic_and_readable():
    invoice = largest_render()
    pdf = render_invoice(invoice)
    assert pdf == render_invoice(invoice)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert text.count("a日a日") >= MAX_LINES
