"""Invoice emails per second: sends through the API, delivered by the invoicing service's worker to
a real SMTP server (aiosmtpd, in this process, on a free local port).

    .venv/bin/python bench/email_sends.py        # about 1 min; BENCH_EMAILS=N (default 300)

The whole stack as `make run` starts it (on SQLite, in a fresh data directory) with PORTAL_SMTP_URL
naming the SMTP server. N drafts are created first (not timed); then N clients' worth of
`POST /api/v1/invoices/{id}/send` are made by BENCH_CONNECTIONS threads, each queuing one email
(PDF attached), and the clock runs until the SMTP server has received all N. Reported: the sends'
rate (the API's share), emails delivered per second from the first send to the last message
received (end to end), the same from the last send on (the worker alone, draining what is
queued), and the invoicing process's CPU per email. Writes bench/results/email_sends.md.
"""

import concurrent.futures
import contextlib
import os
import shutil
import sys
import threading
import time

import requests
import run
from aiosmtpd.controller import Controller

from portal_stack.stack import Stack
from portal_stack.testing import new_organization

EMAILS = run.env_int("BENCH_EMAILS", 300)
DATA = run.RESULTS / "data" / "email-sends"
INVOICE = {
    "type": "b2c_single",
    "currency": "EUR",
    "lineItems": [
        {"description": "Consulting, March", "quantity": 12.5, "unitPriceInCents": 9500, "taxRatePercent": 19},
        {"description": "Travel", "quantity": 1, "unitPriceInCents": 23000},
    ],
    "notes": "Payable by bank transfer within 30 days.",
}


class Counter:
    """The SMTP server's handler: counts the messages it accepts, and when the last one came."""

    def __init__(self):
        self.received = 0
        self.last_at = 0.0
        self.all_in = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.received += 1  # the handler runs on the controller's one event loop thread
        self.last_at = time.monotonic()
        if self.received >= EMAILS:
            self.all_in.set()
        return "250 OK"


def post(session: requests.Session, url: str, body: dict, key: str, expected: int) -> dict:
    response = session.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    if response.status_code != expected:
        raise SystemExit(f"bench: POST {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def measure() -> dict:
    shutil.rmtree(DATA, ignore_errors=True)
    counter = Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=run.free_port())
    smtp.start()
    os.environ["PORTAL_SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"  # the stack's children inherit it
    try:
        with contextlib.ExitStack() as stacks:
            print(f"starting the full chain with PORTAL_SMTP_URL={os.environ['PORTAL_SMTP_URL']}", flush=True)
            full = run.start(stacks, Stack, DATA, "email-sends")
            base = f"http://127.0.0.1:{full.config.http_port}/api/v1"
            key = new_organization(full, "Bench Emails GmbH")["apiKey"]
            http = requests.Session()
            contact = post(http, f"{base}/crm/contacts", {"email": "ap@client.example", "firstName": "Ada"}, key, 201)
            body = {**INVOICE, "billTo": {"contactId": contact["contactId"]}}
            print(f"creating {EMAILS} drafts", flush=True)
            drafts = [post(http, f"{base}/invoices", body, key, 201)["_id"] for _ in range(EMAILS)]
            local = threading.local()

            def send(invoice_id: str) -> None:
                if not hasattr(local, "http"):
                    local.http = requests.Session()
                post(local.http, f"{base}/invoices/{invoice_id}/send", {}, key, 200)

            invoicing = full.processes["invoicing"].pid
            cpu_before = run.cpu_seconds(invoicing)
            print(f"sending {EMAILS} invoices with {run.CONNECTIONS} clients", flush=True)
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(run.CONNECTIONS) as clients:
                list(clients.map(send, drafts))
            sent = time.monotonic()
            received_then = counter.received
            if not counter.all_in.wait(600):
                raise SystemExit(f"bench: only {counter.received} of {EMAILS} emails arrived within 10 minutes")
            cpu = run.cpu_seconds(invoicing) - cpu_before
    finally:
        smtp.stop()
    return {
        "sends_per_s": EMAILS / (sent - started),
        "end_to_end_per_s": EMAILS / (counter.last_at - started),
        "drain_per_s": (EMAILS - received_then) / max(counter.last_at - sent, 1e-9),
        "received_during_sends": received_then,
        "seconds": counter.last_at - started,
        "cpu_ms_per_email": cpu * 1000 / EMAILS,
    }


def report(r: dict) -> str:
    return "\n".join(
        [
            f"# bench/email_sends.py, {time.strftime('%Y-%m-%d %H:%M %Z')}",
            "",
            f"- commit {run.commit()}; {run.machine()}; load average {run.LOAD_BEFORE:.1f} before the run",
            f"- {EMAILS} invoices sent by {run.CONNECTIONS} clients, each email with its PDF, to aiosmtpd",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| POST /send (queues the email) per second | {r['sends_per_s']:,.1f} |",
            f"| emails delivered per second, first send to last received | {r['end_to_end_per_s']:,.1f} |",
            f"| emails delivered per second after the last send (the worker draining) | {r['drain_per_s']:,.1f} |",
            f"| emails already received when the last send returned | {r['received_during_sends']} |",
            f"| seconds until all were received | {r['seconds']:,.1f} |",
            f"| invoicing process CPU per email (send, SMTP; renders run in its workers), ms | {r['cpu_ms_per_email']:,.1f} |",
            "",
        ]
    )


def main() -> int:
    run.prepare()
    run.publish(report(measure()), "email_sends.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
