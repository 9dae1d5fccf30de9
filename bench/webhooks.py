"""Payment webhook deliveries per second through the full chain, as `make run` starts it.

    .venv/bin/python bench/webhooks.py        # about 1 min

Standard Webhooks deliveries (signed as a sender signs them: HMAC-SHA256 over id, timestamp and
body), each with a new webhook-id and sent once, POSTed by wrk (BENCH_CONNECTIONS=16 connections)
to one connection's webhook URL through Envoy to the invoicing service, on SQLite:
- applied: each event pays a different sent invoice of the organization (the path a real payment
  takes: signature, event stored, invoice locked, paid and its read model rebuilt, in one
  transaction);
- unmatched: each event names an invoice the organization does not have (signature, event stored
  with its reason; no invoice written).
The deliveries are signed just before each wrk run (their timestamps must be within 300 s) and the
invoices are written into the invoicing database beforehand through its repository (creating and
sending 40,000 invoices over REST would take minutes). Every answer must be 200, every event sent
once: otherwise the figures are flagged. Reuses run.py's stack start, wrk driver, CPU accounting and
BENCH_* settings; writes bench/results/webhooks.md.
"""

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal

import run

from invoicing.adapters.unit_of_work import SqlInvoicingUnitOfWork
from invoicing.api.mapping import invoice_view
from invoicing.domain.model import BillTo, Invoice, LineItem
from invoicing.domain.money import line_amounts, totals
from invoicing.server import new_outbox
from portal_common import db
from portal_stack.stack import BIN, Stack

DATA = run.RESULTS / "data" / "webhooks"
SCRIPT = run.BENCH / "webhooks.lua"
AMOUNT = 12_345
# Deliveries prepared per second of a wrk run: well above what one Python process can take.
PER_SECOND = 3_000
CASES = (("applied", "POST webhook: pays an invoice"), ("unmatched", "POST webhook: unknown invoice (unmatched)"))


def post(base: str, path: str, body: dict, api_key: str) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def seed_invoices(organization_id: str, count: int) -> list[str]:
    """`count` sent EUR invoices of AMOUNT cents, written through the invoicing repository."""
    engine = db.create_engine(f"sqlite:///{DATA / 'invoicing.db'}")
    database = db.Database(engine)
    amounts = line_amounts(Decimal(1), AMOUNT, Decimal(0))
    line = LineItem("Bench work", Decimal(1), AMOUNT, Decimal(0), amounts)
    now = int(time.time() * 1000)
    ids = []
    for start in range(0, count, 2_000):
        with SqlInvoicingUnitOfWork(database, new_outbox(), invoice_view) as uow:
            for number in range(start, min(count, start + 2_000)):
                invoice = Invoice(
                    id=f"inv_bench{number:08d}",
                    organization_id=organization_id,
                    number=f"INV-2100-01-{number + 1:06d}",
                    type="b2c_single",
                    status="sent",
                    issue_date=4102444800000,
                    due_date=4102444800000,
                    payment_terms="due_on_receipt",
                    currency="EUR",
                    line_items=[line],
                    totals=totals([amounts]),
                    bill_to=BillTo(name="Bench Customer", email="customer@bench.example"),
                    created_by="bench",
                    created_at=now,
                    updated_at=now,
                    sent_date=now,
                    sent_to="customer@bench.example",
                )
                uow.invoices.add(invoice)
                ids.append(invoice.id)
            uow.commit()
    engine.dispose()
    return ids


def signed_line(path: str, secret: str, message_id: str, body: dict) -> str:
    raw = json.dumps(body, separators=(",", ":"))
    t = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{message_id}.{t}.{raw}".encode(), hashlib.sha256).digest())
    return "\t".join((path, message_id, t, f"v1,{signature.decode()}", raw))


def payment(invoice_id: str, message_id: str) -> dict:
    return {
        "type": "payment.succeeded",
        "data": {
            "invoiceId": invoice_id,
            "amountInCents": AMOUNT,
            "currency": "EUR",
            "transactionRef": f"txn_{message_id}",
            "paymentMethod": "card",
        },
    }


class Deliveries:
    """Signs a fresh file of deliveries for each wrk run; the `applied` case takes the next unused
    invoices."""

    def __init__(self, path: str, secret: str, invoices: list[str]):
        self._path, self._secret = path, secret
        self._invoices = iter(invoices)
        self._ids = itertools.count()

    def write(self, case: str, count: int) -> str:
        lines = []
        for _ in range(count):
            message_id = f"msg_bench_{next(self._ids)}"
            invoice_id = next(self._invoices) if case == "applied" else f"inv_unknown_{message_id}"
            lines.append(signed_line(self._path, self._secret, message_id, payment(invoice_id, message_id)))
        target = run.RESULTS / "webhook-deliveries.txt"
        target.write_text("\n".join(lines) + "\n")
        return str(target)

    def load(self, base: str, case: str, seconds: int) -> dict:
        deliveries = self.write(case, PER_SECOND * seconds)
        figures = run.wrk_script(base, SCRIPT, [deliveries, str(run.THREADS)], seconds)
        out = figures["output"].splitlines()
        figures["replayed"] = int(next(line.split()[1] for line in out if line.startswith("BENCH_REPLAYED ")))
        return figures


def check(base: str, deliveries: Deliveries, api_key: str, connection_id: str, invoice_id: str) -> None:
    """One delivery before the load: it must answer 200 and pay its invoice."""
    path, message_id, t, signature, raw = (
        pathlib.Path(deliveries.write("applied", 1)).read_text().rstrip("\n").split("\t")
    )
    headers = {"Content-Type": "application/json", "webhook-id": message_id, "webhook-timestamp": t}
    request = urllib.request.Request(
        base + path, data=raw.encode(), method="POST", headers={**headers, "webhook-signature": signature}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200 or json.load(response) != {"received": True}:
            raise SystemExit(f"bench: unexpected webhook answer {response.status}")
    listed = urllib.request.Request(
        f"{base}/api/v1/payment-connections/{connection_id}/events?limit=1",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    with urllib.request.urlopen(listed, timeout=30) as response:
        event = json.load(response)["events"][0]
    if (event["status"], event["invoiceId"]) != ("applied", invoice_id):
        raise SystemExit(f"bench: the check delivery was not applied: {event}")


def run_cases() -> dict[str, dict]:
    shutil.rmtree(DATA, ignore_errors=True)
    # The per-address budget of deliveries stays in the chain but never bites.
    os.environ["PORTAL_WEBHOOK_RATE_LIMIT_PER_MINUTE"] = "100000000"
    results = {}
    with contextlib.ExitStack() as stacks:
        print("starting the full chain (gateway + auth + invoicing + SQLite)", flush=True)
        full = run.start(stacks, Stack, DATA, "webhooks")
        base = f"http://127.0.0.1:{full.config.http_port}"
        env = full.config.child_env()
        created = json.loads(
            subprocess.run(
                [str(BIN / "portal"), "org", "create", "Bench webhooks"], env=env, check=True, capture_output=True
            ).stdout
        )
        key = created["apiKey"]
        connection = post(base, "/api/v1/payment-connections", {"provider": "standard"}, key)
        needed = 1 + PER_SECOND * (run.WARMUP + run.DURATION)
        print(f"  writing {needed:,} sent invoices ...", flush=True)
        invoices = seed_invoices(created["organizationId"], needed)
        deliveries = Deliveries(connection["webhookUrl"], connection["signingSecret"], invoices)
        check(base, deliveries, key, connection["id"], invoices[0])
        for case, label in CASES:
            results[case] = run.measure_load(
                label, full, lambda seconds, case=case: deliveries.load(base, case, seconds)
            )
    return results


def report(results: dict[str, dict]) -> str:
    lines = [
        f"# bench/webhooks.py, {time.strftime('%Y-%m-%d %H:%M %Z')}",
        "",
        f"- commit {run.commit()}; {run.machine()}; load average {run.LOAD_BEFORE:.1f} before the run",
        f"- wrk -t{run.THREADS} -c{run.CONNECTIONS} -d{run.DURATION}s after a {run.WARMUP} s warm-up; "
        f"Envoy {run.envoy_version()}",
        "",
        "| case | events/s | p50 ms | p99 ms | invoicing CPU µs/event | envoy CPU µs/event | non-200 | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        cpu = " | ".join(f"{r['cpu_us'][name]:.0f}" for name in ("invoicing", "envoy"))
        lines.append(
            f"| {r['label']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} "
            f"| {cpu} | {r['non2xx']} | {r['socket_errors']} |"
        )
    if any(r["non2xx"] or r["socket_errors"] or r["replayed"] for r in results.values()):
        lines += ["", "**Some deliveries failed or were sent twice: the figures above are not valid.**"]
    return "\n".join(lines) + "\n"


def main() -> int:
    run.prepare()
    run.publish(report(run_cases()), "webhooks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
