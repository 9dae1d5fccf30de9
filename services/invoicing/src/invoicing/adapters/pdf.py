"""Invoices as PDF, drawn with reportlab's canvas.

The line table is drawn row by row rather than with platypus' Table: a Table measures and splits
every cell again for each page, which costs about 0.26 s for 1000 lines; laying the rows out once
and drawing them directly is several times faster (bench/invoice_pdf.py).

Text is real text in embedded DejaVu Sans (Debian's fonts-dejavu-core), which covers Latin,
Greek and Cyrillic ("Zoë Müller", "Łódź"). Characters it lacks, such as CJK ("日本"), fall back to
Droid Sans Fallback (Debian's fonts-droid-fallback), embedded as well (only the glyphs used), so
every reader draws them. The output is deterministic (`invariant`): the same invoice gives the same bytes, so a stored PDF can
be checked by its hash.
"""

import datetime
import io
import pathlib
from decimal import Decimal
from typing import Callable

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from invoicing.domain.model import B2B_CONSOLIDATED, CANCELLED, DRAFT, Invoice, Issuer
from portal_common.currencies import MINOR_DIGITS, format_money
from portal_common.domain_errors import DeadlineExceeded

FONT_DIRS = (pathlib.Path("/usr/share/fonts/truetype/dejavu"), pathlib.Path("/usr/share/fonts/truetype/droid"))
REGULAR, BOLD, FALLBACK = "DejaVuSans", "DejaVuSans-Bold", "DroidSansFallbackFull"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 42.0
BODY_SIZE = 9.0
LINE = 12.0  # one line of table text
FOOTER_Y = 24.0
TABLE_BOTTOM = 48.0
# Columns of the line table: left edge of the description, right edges of the figures.
DESCRIPTION_X = MARGIN
DESCRIPTION_WIDTH = 230.0
QUANTITY_RIGHT, UNIT_PRICE_RIGHT, TAX_RATE_RIGHT, TOTAL_RIGHT = 318.0, 412.0, 462.0, PAGE_WIDTH - MARGIN


def _font_file(name: str) -> pathlib.Path:
    for directory in FONT_DIRS:
        if (directory / f"{name}.ttf").exists():
            return directory / f"{name}.ttf"
    raise RuntimeError(
        f"font {name}.ttf not found in {', '.join(map(str, FONT_DIRS))}: "
        "install Debian's fonts-dejavu-core and fonts-droid-fallback (make setup does)"
    )


def _register_fonts() -> frozenset[int]:
    """Registers the fonts once per process; returns the code points DejaVu Sans can draw."""
    regular = TTFont(REGULAR, _font_file(REGULAR))
    for font in (regular, TTFont(BOLD, _font_file(BOLD)), TTFont(FALLBACK, _font_file(FALLBACK))):
        pdfmetrics.registerFont(font)
    return frozenset(regular.face.charToGlyph)


_COVERED = _register_fonts()


def _runs(text: str, font: str) -> list[tuple[str, str]]:
    """`text` cut into (font, piece) runs: DejaVu where it has the glyph, the fallback elsewhere."""
    if text.isascii() or all(map(_COVERED.__contains__, map(ord, text))):
        return [(font, text)]
    runs: list[tuple[str, str]] = []
    for char in text:
        wanted = font if ord(char) in _COVERED else FALLBACK
        if runs and runs[-1][0] == wanted:
            runs[-1] = (wanted, runs[-1][1] + char)
        else:
            runs.append((wanted, char))
    return runs


# Each character's width in each font at size 1, measured once: wrapping a long description
# measures every character, and asking reportlab per candidate line made wrapping quadratic
# (14 s for 480 lines of 1000 mixed Latin and CJK characters).
_CHAR_WIDTHS: dict[str, dict[str, float]] = {REGULAR: {}, BOLD: {}}


def _char_width(char: str, font: str) -> float:
    widths = _CHAR_WIDTHS[font]
    width = widths.get(char)
    if width is None:
        width = widths[char] = pdfmetrics.stringWidth(char, font if ord(char) in _COVERED else FALLBACK, 1)
    return width


def _width(text: str, font: str, size: float) -> float:
    return sum(_char_width(char, font) for char in text) * size


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap; a word wider than the column (or CJK text without spaces) is cut by
    character. Each character is measured once, so the cost grows linearly with the text."""
    limit = width / size
    if _width(text, font, 1) <= limit:
        return [text]
    space = _char_width(" ", font)
    lines: list[str] = []
    current, current_width = "", 0.0
    for word in text.split():
        word_width = sum(_char_width(char, font) for char in word)
        if current and current_width + space + word_width <= limit:
            current, current_width = f"{current} {word}", current_width + space + word_width
            continue
        if current:
            lines.append(current)
        current, current_width = "", 0.0
        if word_width <= limit:
            current, current_width = word, word_width
            continue
        for char in word:
            char_width = _char_width(char, font)
            if current and current_width + char_width > limit:
                lines.append(current)
                current, current_width = "", 0.0
            current, current_width = current + char, current_width + char_width
    if current:
        lines.append(current)
    return lines


def _date(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d")


def _decimal(value: Decimal) -> str:
    """1.5 → "1.5", 10 → "10": no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def _money(minor_units: int, currency: str) -> str:
    """`USD 1,070.00`, `JPY 107,000`, `KWD 1.070`: in the currency's own minor unit (ISO 4217)."""
    if currency in MINOR_DIGITS:
        return format_money(minor_units, currency)
    # An invoice stored before the shared ISO 4217 table, in a code it leaves out (a fund such as
    # CLF): shown in minor units rather than with guessed decimals.
    return f"{currency} {minor_units:,} minor units"


def _amount(minor_units: int, currency: str) -> str:
    """A table figure: the amount without the currency code, which the column headers name."""
    return _money(minor_units, currency).split(" ", 1)[1]


class _Page:
    """Text on one page with the font fallback, written into one PDF text object: one per string
    (canvas.drawString) would cost more than the text itself."""

    def __init__(self, canvas: Canvas):
        self.canvas = canvas
        self._text = canvas.beginText()
        self._font: tuple[str, float] | None = None

    def text(
        self, x: float, y: float, text: str, font: str = REGULAR, size: float = BODY_SIZE, align: str = "left"
    ) -> None:
        runs = _runs(text, font)
        if align != "left":
            width = sum(pdfmetrics.stringWidth(piece, name, size) for name, piece in runs)
            x -= width if align == "right" else width / 2
        # Placed once: each piece then starts where the previous one ended (PDF's Tj moves the cursor).
        self._text.setTextOrigin(x, y)
        for name, piece in runs:
            if self._font != (name, size):
                self._text.setFont(name, size)
                self._font = (name, size)
            self._text.textOut(piece)

    def finish(self) -> None:
        """Draws the page's text and starts the next page."""
        self.canvas.drawText(self._text)
        self.canvas.showPage()
        self._text = self.canvas.beginText()
        self._font = None


class RenderStopped(DeadlineExceeded):
    """The render was given up: nobody is waiting for it any more (its deadline passed, or its
    caller went away). Answering DEADLINE_EXCEEDED agrees with what a caller whose own deadline fires
    at the same moment sees."""


def _always() -> bool:
    return True


def render_invoice(invoice: Invoice, keep_going: Callable[[], bool] = _always) -> bytes:
    """The invoice as a PDF a business would send: issuer, billTo, dates and terms, the lines (the
    table header repeated on each page), totals in the invoice's currency, notes, page numbers.

    Everything below the page headers is a flow of items (the rows, then the totals, then the
    lines of the notes) laid out once, so the page count is known before drawing.

    `keep_going` is asked between rows and between pages (e.g. "is the client still there, and
    within its deadline?"); once it says no, RenderStopped is raised instead of finishing a PDF
    that nobody will read."""

    def check() -> None:
        if not keep_going():
            raise RenderStopped("the PDF was not rendered: the request was cancelled or its deadline passed")

    rows = []
    for line in invoice.line_items:
        check()
        rows.append(_row(invoice, line))
    notes = [
        line
        for paragraph in (invoice.notes or "").splitlines()
        if paragraph.strip()
        for line in _wrap(paragraph, REGULAR, BODY_SIZE, PAGE_WIDTH - 2 * MARGIN)
    ]
    heights = [len(row[0]) * LINE + ROW_GAP for row in rows] + [TOTALS_HEIGHT]
    if notes:
        heights += [NOTES_HEADING_HEIGHT] + [LINE] * len(notes)
    pages = _paginate(heights)

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"Invoice {invoice.number}")
    canvas.setAuthor(invoice.issuer.name if invoice.issuer else invoice.organization_id)
    canvas.setCreator("portal invoicing")
    page = _Page(canvas)
    for number, (start, end) in enumerate(pages, start=1):
        check()
        y = _first_page_header(page, invoice) if number == 1 else _continued_header(page, invoice)
        if start < len(rows) or number == 1:
            y = _table_header(page, invoice, y)
        for i in range(start, end):
            if i < len(rows):
                _draw_row(page, rows[i], y)
            elif i == len(rows):
                _totals(page, invoice, y)
            elif i == len(rows) + 1:
                page.text(MARGIN, y - 6, "Notes", BOLD, 10)
            else:
                page.text(MARGIN, y, notes[i - len(rows) - 2])
            y -= heights[i]
        page.text(PAGE_WIDTH / 2, FOOTER_Y, f"{invoice.number} · Page {number} of {len(pages)}", size=8, align="center")
        page.finish()
    canvas.save()
    return buffer.getvalue()


def _row(invoice: Invoice, line) -> tuple[list[str], str, str, str, str]:
    description = _wrap(line.description, REGULAR, BODY_SIZE, DESCRIPTION_WIDTH)
    if line.employee_name:
        description += _wrap(f"Employee: {line.employee_name}", REGULAR, BODY_SIZE, DESCRIPTION_WIDTH)
    return (
        description,
        _decimal(line.quantity),
        _amount(line.unit_price_cents, invoice.currency),
        f"{_decimal(line.tax_rate_percent)}%",
        _amount(line.amounts.total_cents, invoice.currency),
    )


def _draw_row(page: _Page, row, y: float) -> None:
    description, quantity, unit_price, tax_rate, total = row
    for i, text in enumerate(description):
        page.text(DESCRIPTION_X, y - i * LINE, text)
    page.text(QUANTITY_RIGHT, y, quantity, align="right")
    page.text(UNIT_PRICE_RIGHT, y, unit_price, align="right")
    page.text(TAX_RATE_RIGHT, y, tax_rate, align="right")
    page.text(TOTAL_RIGHT, y, total, align="right")


# Below the tallest header: nine lines of issuer, then nine of bill-to (see _first_page_header).
FIRST_PAGE_TABLE_TOP = PAGE_HEIGHT - 320.0
OTHER_PAGE_TABLE_TOP = PAGE_HEIGHT - 90.0
TABLE_HEADER_HEIGHT = 22.0
ROW_GAP = 4.0
TOTALS_HEIGHT = 60.0
NOTES_HEADING_HEIGHT = 24.0


def _paginate(heights: list[float]) -> list[tuple[int, int]]:
    """Pages as ranges [start, end) of the flow's items; every page holds at least one item."""
    pages = []
    start, y = 0, FIRST_PAGE_TABLE_TOP - TABLE_HEADER_HEIGHT
    for i, height in enumerate(heights):
        if y - height < TABLE_BOTTOM and i > start:
            pages.append((start, i))
            start, y = i, OTHER_PAGE_TABLE_TOP - TABLE_HEADER_HEIGHT
        y -= height
    pages.append((start, len(heights)))
    return pages


def _tax_id(tax_id: str | None) -> str | None:
    return f"Tax ID: {tax_id}" if tax_id else None


def _issuer_lines(issuer: Issuer) -> list[str]:
    """Under the issuer's name: at most nine lines (FIRST_PAGE_TABLE_TOP leaves room for them)."""
    legal_name = issuer.legal_name if issuer.legal_name != issuer.name else None
    lines = [legal_name, *issuer.address.lines(), issuer.email, issuer.phone, issuer.website, _tax_id(issuer.tax_id)]
    return [line for line in lines if line]


def _bill_to_lines(invoice: Invoice) -> list[str]:
    """Who is billed: at most nine lines, the name first; the contact the invoice is for when it is
    not the name itself (a b2b invoice), and the billed organization's tax id when the CRM knew it."""
    bill_to = invoice.bill_to
    attention = f"Attn: {bill_to.contact_name}" if bill_to.contact_name not in (None, bill_to.name) else None
    lines = [bill_to.name, attention, *bill_to.address.lines(), bill_to.email, _tax_id(bill_to.tax_id)]
    if invoice.type == B2B_CONSOLIDATED:
        lines.append("Consolidated invoice for the employees named on each line")
    return [line for line in lines if line]


def _first_page_header(page: _Page, invoice: Invoice) -> float:
    top = PAGE_HEIGHT - MARGIN - 10
    issuer = invoice.issuer
    if issuer:
        page.text(MARGIN, top, issuer.name, BOLD, 13)
        details = _issuer_lines(issuer)
    else:  # sent before organizations had a profile, without an issuer of its own
        page.text(MARGIN, top, f"Organization {invoice.organization_id}", BOLD, 11)
        details = []
    for i, text in enumerate(details):
        page.text(MARGIN, top - 16 - i * LINE, text)

    right = PAGE_WIDTH - MARGIN
    title = {DRAFT: "DRAFT INVOICE", CANCELLED: "CANCELLED INVOICE"}.get(invoice.status, "INVOICE")
    page.text(right, top, title, BOLD, 16, align="right")
    facts = [
        ("Invoice number", invoice.number),
        ("Issue date", _date(invoice.issue_date)),
        ("Due date", _date(invoice.due_date)),
        ("Payment terms", invoice.payment_terms.replace("_", " ").replace("net", "net ")),
        ("Currency", invoice.currency),
    ]
    for i, (label, value) in enumerate(facts):
        y = top - 22 - i * LINE
        page.text(right - 110, y, label, align="right")
        page.text(right, y, value, BOLD, align="right")

    y = min(top - 110, top - 16 - len(details) * LINE - 10)
    page.text(MARGIN, y, "Bill to", BOLD, 10)
    for i, text in enumerate(_bill_to_lines(invoice)):
        page.text(MARGIN, y - 14 - i * LINE, text, BOLD if i == 0 else REGULAR)
    return FIRST_PAGE_TABLE_TOP


def _continued_header(page: _Page, invoice: Invoice) -> float:
    top = PAGE_HEIGHT - MARGIN - 10
    page.text(MARGIN, top, invoice.issuer.name if invoice.issuer else "", BOLD, 11)
    page.text(PAGE_WIDTH - MARGIN, top, f"Invoice {invoice.number} (continued)", BOLD, 11, align="right")
    return OTHER_PAGE_TABLE_TOP


def _table_header(page: _Page, invoice: Invoice, y: float) -> float:
    canvas = page.canvas
    canvas.setFillGray(0.92)
    canvas.rect(MARGIN - 4, y - 5, PAGE_WIDTH - 2 * MARGIN + 8, 17, stroke=0, fill=1)
    canvas.setFillGray(0)
    page.text(DESCRIPTION_X, y, "Description", BOLD)
    page.text(QUANTITY_RIGHT, y, "Quantity", BOLD, align="right")
    page.text(UNIT_PRICE_RIGHT, y, f"Unit price ({invoice.currency})", BOLD, align="right")
    page.text(TAX_RATE_RIGHT, y, "Tax rate", BOLD, align="right")
    page.text(TOTAL_RIGHT, y, f"Amount ({invoice.currency})", BOLD, align="right")
    return y - TABLE_HEADER_HEIGHT


def _totals(page: _Page, invoice: Invoice, y: float) -> None:
    page.canvas.setLineWidth(0.5)
    page.canvas.line(330, y + 6, PAGE_WIDTH - MARGIN, y + 6)
    figures = [
        ("Subtotal", invoice.totals.subtotal_cents, REGULAR),
        ("Tax", invoice.totals.tax_cents, REGULAR),
        ("Total", invoice.totals.total_cents, BOLD),
    ]
    for i, (label, cents, font) in enumerate(figures):
        line_y = y - 8 - i * 14
        page.text(UNIT_PRICE_RIGHT, line_y, label, font, 10, align="right")
        page.text(TOTAL_RIGHT, line_y, _money(cents, invoice.currency), font, 10, align="right")
