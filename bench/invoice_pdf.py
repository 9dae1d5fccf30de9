"""Invoicing figures: PDF render time, GET/list through the gateway at 100k invoices, and one
tenant's list latency while another hammers PDFs.

    .venv/bin/python bench/invoice_pdf.py            # PDF times (ours, a platypus Table, Chromium)
    .venv/bin/python bench/invoice_pdf.py --http     # also GET and list at 100k invoices with wrk
    .venv/bin/python bench/invoice_pdf.py --tenants  # list p99 of one tenant, alone and under PDF load

PDF: the same invoice (1, 100, 1000 lines) rendered by the service's renderer
(invoicing.adapters.pdf), by a plain reportlab platypus Table of the same content, and by headless
Chromium printing the same invoice from HTML (what HTML-to-PDF renderers do). Median of several
runs, in one process, after a warm-up. Then the invoices that cost the renderer most: within the
documented limits (docs/api-invoicing.md) and, for comparison, the invoice of issue 9 (480 lines of
1,000 mixed characters, accepted before the limits).

Tenants: on a stack with the PDF cache off (every download renders), wrk on tenant B's
GET /invoices?limit=50 alone, then again while a second wrk asks tenant A's largest invoice as PDF
on 8 connections (issue 9: "eight concurrent renders").

HTTP: a stack on SQLite with 100,000 invoices in one organization (written straight into the
invoicing database; 40 % paid, 20 % each overdue, draft and cancelled), then wrk on
GET /api/v1/invoices/{id}, three lists and a PDF.
"""

import argparse
import dataclasses
import html
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

from invoicing.adapters.pdf import render_invoice
from invoicing.domain.model import MAX_FREE_TEXT, MAX_LINES, Address, BillTo, Invoice, Issuer, LineItem
from invoicing.domain.money import line_amounts, totals
from invoicing.service_layer.invoices import MAX_DESCRIPTION, MAX_NOTES
from portal_common.currencies import format_money

SIZES = (1, 100, 1000)
# The seeded invoices' stored statuses, in turn (all are past due: unpaid ones are stored overdue,
# as the service's overdue job leaves them).
STATUS_MIX = ("paid", "paid", "overdue", "draft", "cancelled")


def sample_invoice(
    lines: int, invoice_id: str = "inv_bench", number: str = "INV-2025-01-001", organization_id: str = "org_bench"
) -> Invoice:
    items = []
    for i in range(lines):
        quantity, price, rate = Decimal("1.5") + i % 4, 7500 + i, Decimal("7.5")
        items.append(
            LineItem(
                f"Development sprint {i + 1}: backend work and review",
                quantity,
                price,
                rate,
                line_amounts(quantity, price, rate),
            )
        )
    return Invoice(
        id=invoice_id,
        organization_id=organization_id,
        number=number,
        type="b2b_single",
        status="sent",
        issue_date=1735689600000,
        due_date=1735689600000 + 30 * 86_400_000,
        payment_terms="net30",
        currency="EUR",
        line_items=items,
        totals=totals([item.amounts for item in items]),
        bill_to=BillTo(
            name="Zoë Müller",
            email="zoe@example.com",
            crm_organization_id="co_bench",
            address=Address(street="ul. Piotrkowska 1", city="Łódź", postal_code="90-001", country="PL"),
        ),
        issuer=Issuer(
            name="Nihon Consulting 日本",
            email="billing@nihon.example",
            address=Address(street="Hauptstraße 5", city="Berlin", country="DE"),
        ),
        notes="Payment due within 30 days.",
        created_by="key_bench",
        created_at=1735689600000,
        updated_at=1735689600000,
    )


def median_ms(render, invoice, runs: int) -> float:
    render(invoice)  # warm-up: font loading, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        render(invoice)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def render_with_table(invoice: Invoice) -> bytes:
    """The straightforward alternative: the same content as a platypus Table (header repeated)."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    style = getSampleStyleSheet()["Normal"]
    style.fontName = "DejaVuSans"
    rows = [["Description", "Quantity", "Unit price", "Tax rate", "Amount"]] + [
        [
            line.description,
            str(line.quantity),
            format_money(line.unit_price_cents, invoice.currency),
            f"{line.tax_rate_percent}%",
            format_money(line.amounts.total_cents, invoice.currency),
        ]
        for line in invoice.line_items
    ]
    table = Table(rows, repeatRows=1, colWidths=[230, 60, 80, 50, 90])
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "DejaVuSans", 9), ("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, invariant=1).build(
        [
            Paragraph(f"Invoice {invoice.number} — {invoice.bill_to.name}", style),
            table,
            Paragraph(f"Total {format_money(invoice.totals.total_cents, invoice.currency)}", style),
        ]
    )
    return buffer.getvalue()


def invoice_html(invoice: Invoice) -> str:
    money = lambda cents: format_money(cents, invoice.currency)  # noqa: E731
    rows = "".join(
        f"<tr><td>{html.escape(line.description)}</td><td>{line.quantity}</td><td>{money(line.unit_price_cents)}</td>"
        f"<td>{line.tax_rate_percent}%</td><td>{money(line.amounts.total_cents)}</td></tr>"
        for line in invoice.line_items
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font-family: 'DejaVu Sans', sans-serif; font-size: 9pt; margin: 15mm; }}
table {{ width: 100%; border-collapse: collapse; }} thead {{ display: table-header-group; }}
th {{ background: #eee; text-align: left; }} td:not(:first-child), th:not(:first-child) {{ text-align: right; }}
tr {{ page-break-inside: avoid; }}
</style></head><body>
<h1>Invoice {invoice.number}</h1><p>{html.escape(invoice.issuer.name)}</p>
<p><b>Bill to</b><br>{html.escape(invoice.bill_to.name)}<br>{"<br>".join(map(html.escape, invoice.bill_to.address.lines()))}</p>
<table><thead><tr><th>Description</th><th>Quantity</th><th>Unit price</th><th>Tax rate</th><th>Amount</th></tr></thead>
<tbody>{rows}</tbody></table>
<p>Subtotal {money(invoice.totals.subtotal_cents)}<br>Tax {money(invoice.totals.tax_cents)}<br>
<b>Total {money(invoice.totals.total_cents)}</b></p><p>{html.escape(invoice.notes)}</p></body></html>"""


def chromium_ms(invoice: Invoice, runs: int) -> float | None:
    """Wall time of `chromium --headless --print-to-pdf` on the invoice's HTML, process start included
    (that is how such renderers run it)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        page = pathlib.Path(tmp, "invoice.html")
        page.write_text(invoice_html(invoice))
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={tmp}/invoice.pdf",
            page.as_uri(),
        ]
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, timeout=120)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times[1:])


def mixed(length: int) -> str:
    """Latin and CJK alternating at every character: a font switch each, the renderer's worst text."""
    return ("a日" * length)[:length]


def with_text(invoice: Invoice, description: int, notes: int = 0) -> Invoice:
    invoice.line_items = [dataclasses.replace(line, description=mixed(description)) for line in invoice.line_items]
    invoice.notes = mixed(notes) if notes else None
    return invoice


# (label, invoice): the largest renders. The free text (MAX_FREE_TEXT characters) spent on the
# most lines, on the longest descriptions, or mostly on the notes; and issue 9's invoice.
def worst_cases() -> list[tuple[str, Invoice]]:
    per_line = MAX_FREE_TEXT // MAX_LINES
    longest = MAX_FREE_TEXT // MAX_DESCRIPTION
    return [
        (f"{MAX_LINES} lines x {per_line} mixed chars (limits)", with_text(sample_invoice(MAX_LINES), per_line)),
        (
            f"{longest} lines x {MAX_DESCRIPTION} mixed chars (limits)",
            with_text(sample_invoice(longest), MAX_DESCRIPTION),
        ),
        (
            f"{MAX_LINES} lines x 10 + notes {MAX_NOTES:,} mixed (limits)",
            with_text(sample_invoice(MAX_LINES), 10, MAX_NOTES),
        ),
        ("480 lines x 1000 mixed chars (issue 9, before the limits)", with_text(sample_invoice(480), 1000)),
    ]


def pdf_figures() -> None:
    print("| lines | invoicing renderer | platypus Table | headless Chromium | PDF size |")
    print("|---:|---:|---:|---:|---:|")
    for lines in SIZES:
        invoice = sample_invoice(lines)
        runs = 21 if lines < 1000 else 7
        ours = median_ms(render_invoice, invoice, runs)
        table = median_ms(render_with_table, invoice, max(3, runs // 3))
        browser = chromium_ms(invoice, 3)
        assert render_invoice(invoice) == render_invoice(invoice), "the renderer is not deterministic"
        browser_text = f"{browser:.0f} ms" if browser is not None else "not installed"
        print(
            f"| {lines} | {ours:.1f} ms | {table:.1f} ms | {browser_text} | {len(render_invoice(invoice)) // 1024} KiB |"
        )
    print("\n| largest renders | invoicing renderer | PDF size |")
    print("|---|---:|---:|")
    for label, invoice in worst_cases():
        ours = median_ms(render_invoice, invoice, 3 if "issue" in label else 11)
        assert render_invoice(invoice) == render_invoice(invoice), "the renderer is not deterministic"
        print(f"| {label} | {ours:.1f} ms | {len(render_invoice(invoice)) // 1024} KiB |")


def wrk_command(header: str, url: str, seconds: int, connections: int) -> list[str]:
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("wrk is not installed (apt-get install wrk)")
    return [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", header, url]


def wrk_figures(command: list[str]) -> tuple[float, str, str, int]:
    """(req/s, p50, p99, non-2xx answers) of one wrk run."""
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return wrk_output_figures(out)


def wrk_output_figures(out: str) -> tuple[float, str, str, int]:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(rate), p50, p99, int(non_2xx.group(1)) if non_2xx else 0


def tenant_figures(seconds: int) -> None:
    import requests

    from portal_stack.testing import Databases, new_organization, start_stack

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="invoice-tenants-"))
    databases = Databases(tmp)
    stack = start_stack(databases, tmp / "stack", INVOICING_PDF_CACHE_MB="0")
    try:
        base = f"http://127.0.0.1:{stack.config.http_port}/api/v1/invoices"
        hammering, reading = new_organization(stack, "Hammering"), new_organization(stack, "Reading")
        per_line = MAX_FREE_TEXT // MAX_LINES
        largest = {
            "type": "b2c_single",
            "currency": "EUR",
            "billTo": {"name": "A", "email": "a@example.com"},
            "lineItems": [{"description": mixed(per_line), "quantity": 1, "unitPriceInCents": 100}] * MAX_LINES,
        }
        usual = {
            "type": "b2c_single",
            "currency": "EUR",
            "billTo": {"name": "B", "email": "b@example.com"},
            "lineItems": [
                {
                    "description": f"Development sprint {i}: backend work and review",
                    "quantity": 1.5,
                    "unitPriceInCents": 7500 + i,
                    "taxRatePercent": 7.5,
                }
                for i in range(5)
            ],
        }
        session = requests.Session()

        def create(organization: dict, body: dict) -> str:
            answer = session.post(base, json=body, headers={"Authorization": f"Bearer {organization['apiKey']}"})
            assert answer.status_code == 201, answer.text
            return answer.json()["_id"]

        pdf_id = create(hammering, largest)
        for _ in range(200):
            create(reading, usual)
        read = wrk_command(f"Authorization: Bearer {reading['apiKey']}", f"{base}?limit=50", seconds, 8)
        hammer = wrk_command(f"Authorization: Bearer {hammering['apiKey']}", f"{base}/{pdf_id}/pdf", seconds + 2, 8)
        print("\n| tenant B: GET /invoices?limit=50 (200 invoices), wrk -t2 -c8 | req/s | p50 | p99 |")
        print("|---|---:|---:|---:|")
        rate, p50, p99, _ = wrk_figures(read)
        print(f"| alone | {rate:.0f} | {p50} | {p99} |")
        load = subprocess.Popen(hammer, stdout=subprocess.PIPE, text=True)
        time.sleep(1)  # the hammer is running before the reads start, and ends after them
        rate, p50, p99, _ = wrk_figures(read)
        pdf_rate, _, pdf_p99, refused = wrk_output_figures(load.communicate()[0])
        print(f"| while tenant A asks its largest PDF on 8 connections | {rate:.0f} | {p50} | {p99} |")
        print(
            f"\nTenant A meanwhile: {pdf_rate:.0f} answers/s, p99 {pdf_p99}, {refused:,} of them 503 "
            f"(at most 2 renders at once)."
        )
    finally:
        stack.stop()
        databases.drop_all()


def http_figures(invoices: int, seconds: int) -> None:
    from invoicing.adapters.repository import InvoiceRepository
    from invoicing.api.mapping import invoice_view
    from invoicing.config import MIGRATIONS
    from portal_common import db
    from portal_common.ids import new_id
    from portal_stack.testing import Databases, new_organization, start_stack

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="invoice-bench-"))
    databases = Databases(tmp)
    stack = start_stack(databases, tmp / "stack")
    try:
        organization = new_organization(stack, "Bench Org")
        stack.stop_service("invoicing")
        engine = db.create_engine(stack.config.extra_env["INVOICING_DATABASE_URL"])
        db.migrate(engine, MIGRATIONS)
        start = time.perf_counter()
        template = sample_invoice(5, organization_id=organization["organizationId"])
        batch = 5000
        ids = []
        for first in range(0, invoices, batch):
            with engine.begin() as connection:
                repo = InvoiceRepository(connection, invoice_view)
                for n in range(first, min(first + batch, invoices)):
                    invoice_id = new_id("inv")
                    ids.append(invoice_id)
                    template.id, template.number = invoice_id, f"INV-2025-01-{n + 1:03d}"
                    template.status = STATUS_MIX[n % len(STATUS_MIX)]
                    template.created_at = template.updated_at = 1735689600000 + n
                    repo.add(template)
        engine.dispose()
        print(
            f"\nSeeded {invoices:,} invoices of one organization in {time.perf_counter() - start:.0f} s "
            f"(SQLite, straight into the invoicing database)\n"
        )
        stack.start_service("invoicing")
        base = f"http://127.0.0.1:{stack.config.http_port}/api/v1/invoices"
        header = f"Authorization: Bearer {organization['apiKey']}"
        print("| request | req/s | p50 | p99 |")
        print("|---|---:|---:|---:|")
        for label, url in (
            ("GET /invoices/{id} (5 lines)", f"{base}/{ids[len(ids) // 2]}"),
            ("GET /invoices?limit=50 (total from counts)", f"{base}?limit=50"),
            ("GET /invoices?status=paid&limit=50 (total from counts)", f"{base}?status=paid&limit=50"),
            ("GET /invoices?status=overdue&limit=50 (counts + past-due index)", f"{base}?status=overdue&limit=50"),
            ("GET /invoices/{id}/pdf (5 lines, from the PDF cache)", f"{base}/{ids[len(ids) // 2]}/pdf"),
        ):
            rate, p50, p99, non_2xx = wrk_figures(wrk_command(header, url, seconds, 16))
            print(f"| {label} | {rate:.0f} | {p50} | {p99} |" + (f" {non_2xx} non-2xx" if non_2xx else ""))
        print(
            f"\nwrk -t2 -c16 -d{seconds}s --latency on a stack started like make run (SQLite), "
            "rate limit raised out of the way."
        )
    finally:
        stack.stop()
        databases.drop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", action="store_true", help="also measure GET and list at 100k invoices with wrk")
    parser.add_argument(
        "--tenants", action="store_true", help="only: one tenant's list latency, alone and while another hammers PDFs"
    )
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if args.tenants:
        tenant_figures(args.seconds)
        return
    pdf_figures()
    if args.http:
        http_figures(args.invoices, args.seconds)


if __name__ == "__main__":
    main()
