"""Domain invoices for the tests that need one without going through the use cases."""

from decimal import Decimal

from invoicing.domain.model import BillTo, Invoice, LineItem
from invoicing.domain.money import line_amounts, totals


def lines_of(count: int, description: str, unit_price: int = 100) -> list[LineItem]:
    """`count` lines of one unit at `unit_price`, untaxed."""
    amounts = line_amounts(Decimal(1), unit_price, Decimal(0))
    return [LineItem(description, Decimal(1), unit_price, Decimal(0), amounts)] * count


def an_invoice(lines: list[LineItem] | None = None, **fields) -> Invoice:
    """A sent b2c_single invoice of `lines` (its totals summed from them) due in 2100; keyword
    arguments replace any other field."""
    items = lines or []
    values = {
        "id": "inv_1",
        "organization_id": "org",
        "number": "INV-2100-01-001",
        "type": "b2c_single",
        "status": "sent",
        "issue_date": 4102444800000,
        "due_date": 4102444800000,
        "payment_terms": "due_on_receipt",
        "currency": "EUR",
        "line_items": items,
        "totals": totals([item.amounts for item in items]),
        "bill_to": BillTo(name="Zoë"),
        "created_by": "key",
        "created_at": 0,
        "updated_at": 0,
    }
    return Invoice(**{**values, **fields})
