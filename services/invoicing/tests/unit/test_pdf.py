"""The PDF's figures in each currency's own minor unit (ISO 4217), read back with pypdf; the
largest invoice the limits allow; a render that stops when told to."""

import dataclasses
import io

import pytest
from invoice_factory import an_invoice, lines_of
from pypdf import PdfReader

from invoicing.adapters.pdf import RenderStopped, render_invoice
from invoicing.domain.model import MAX_FREE_TEXT, MAX_LINES, Address, BillTo, Invoice, Issuer


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


def test_the_header_shows_the_whole_issuer_and_the_billed_organizations_tax_id_and_contact():
    address = Address(street="Street 1", city="City", state="State", postal_code="12345", country="Country")
    invoice = dataclasses.replace(
        invoice_in("EUR", 100),
        type="b2b_single",
        issuer=Issuer(
            name="Acme",
            legal_name="Acme Consulting GmbH",
            email="billing@acme.example",
            phone="+49 30 1234567",
            website="https://acme.example",
            tax_id="DE123456789",
            address=address,
        ),
        bill_to=BillTo(
            name="Łódź Works",
            email="ap@lodz.example",
            address=address,
            tax_id="PL5260250274",
            contact_name="Zoë Müller",
        ),
    )
    [first_page] = PdfReader(io.BytesIO(render_invoice(invoice))).pages
    heights: dict[str, float] = {}  # where each piece of text starts, up from the page's bottom
    text = first_page.extract_text(visitor_text=lambda piece, cm, tm, *_: heights.setdefault(piece.strip(), tm[5]))
    for expected in (
        "Acme Consulting GmbH",
        "billing@acme.example",
        "+49 30 1234567",
        "https://acme.example",
        "Tax ID: DE123456789",
        "Łódź Works",
        "Attn: Zoë Müller",
        "Tax ID: PL5260250274",
        "12345 City",
        "Work",
    ):
        assert expected in text, expected
    # The tallest header (nine lines for each party) ends above the line table's header band.
    table_header = next(height for piece, height in heights.items() if piece.startswith("Description"))
    assert heights["Tax ID: PL5260250274"] - table_header > 2 * 12


def test_a_b2c_invoice_names_its_contact_once_and_no_tax_id_it_does_not_have():
    invoice = dataclasses.replace(
        invoice_in("EUR", 100), issuer=Issuer(name="Acme"), bill_to=BillTo(name="Zoë", contact_name="Zoë")
    )
    text = pdf_text(invoice)
    assert "Attn" not in text and "Tax ID" not in text and text.count("Zoë") == 1
