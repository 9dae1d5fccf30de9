"""The renderer's worker processes: the same bytes as a render in this process, a render stopped
from the caller's side, and a worker that dies answered with UNAVAILABLE, then replaced."""

import dataclasses
import multiprocessing
import os
import signal
from decimal import Decimal

import pytest

from invoicing.adapters.pdf import RenderStopped, render_invoice
from invoicing.adapters.render_processes import ProcessRenderer
from invoicing.domain.model import BillTo, Invoice, LineItem
from invoicing.domain.money import line_amounts, totals
from portal_common.domain_errors import Unavailable


def invoice_of(lines: int, description: str) -> Invoice:
    amounts = line_amounts(Decimal(1), 100, Decimal(0))
    items = [LineItem(description, Decimal(1), 100, Decimal(0), amounts)] * lines
    return Invoice(
        id="inv_1",
        organization_id="org",
        number="INV-2100-01-001",
        type="b2c_single",
        status="sent",
        issue_date=4102444800000,
        due_date=4102444800000,
        payment_terms="due_on_receipt",
        currency="EUR",
        line_items=items,
        totals=totals([item.amounts for item in items]),
        bill_to=BillTo(name="Zoë"),
        created_by="key",
        created_at=0,
        updated_at=0,
    )


@pytest.fixture(scope="module")
def renderer():
    processes = ProcessRenderer(workers=2)
    yield processes
    processes.close()


def test_a_worker_renders_the_same_bytes(renderer):
    invoice = invoice_of(20, "Consulting 日本 Łódź")
    assert renderer(invoice, lambda: True) == render_invoice(invoice)


def test_a_render_stops_once_its_caller_no_longer_waits(renderer):
    # Issue 9's invoice (accepted before the limits): seconds of work, so it is still rendering
    # when the caller's first check (after 50 ms) says to stop.
    issue_9 = invoice_of(480, ("a日" * 500))
    with pytest.raises(RenderStopped):
        renderer(issue_9, lambda: False)
    small = dataclasses.replace(issue_9, line_items=issue_9.line_items[:1])
    assert renderer(small, lambda: True).startswith(b"%PDF-")  # the slot and the worker serve again


def test_a_dead_worker_is_unavailable_once_then_replaced(renderer):
    invoice = invoice_of(1, "Work")
    renderer(invoice, lambda: True)
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(Unavailable):
        renderer(invoice, lambda: True)
    assert renderer(invoice, lambda: True) == render_invoice(invoice)
