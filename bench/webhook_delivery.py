"""Webhook deliveries per second from commit to receiver, and the delay from commit to delivery at
that rate: API writes whose events reach a real HTTP receiver (in this process, on a free local
port) through the whole chain.

    .venv/bin/python bench/webhook_delivery.py      # about 1 min; BENCH_WEBHOOK_WRITES=N (default 1000)

The whole stack as `make run` starts it (SQLite, a fresh data directory, no event bus: the
outboxes relay to the events service over gRPC). One organization with one webhook endpoint
subscribed to `contact.created`; then N `POST /api/v1/crm/contacts` are made by BENCH_CONNECTIONS
client threads as fast as the API answers. Each write commits its contact and its event in the CRM
database (the outbox); the CRM's relay appends it to the events service, which stores it and queues
its delivery in one transaction; a worker POSTs it signed to the receiver, which answers 200 and
notes when it arrived. "Commit" is the event's `createdAt`, taken in the writing transaction.
Reported: writes per second (the API's share), deliveries per second from the first write to the
last delivery, the p50, p90, p99 and max of arrival minus createdAt, and the events process's CPU
per delivery. Writes bench/results/webhook_delivery.md.
"""

import concurrent.futures
import contextlib
import http.server
import json
import shutil
import statistics
import sys
import threading
import time

import requests
import run

from portal_stack.stack import Stack
from portal_stack.testing import new_organization

WRITES = run.env_int("BENCH_WEBHOOK_WRITES", 1000)
# The paced phase: writes at this steady rate (per second) for PACED_SECONDS, below the saturation.
PACED_RATE = run.env_int("BENCH_WEBHOOK_RATE", 40)
PACED_SECONDS = run.env_int("BENCH_WEBHOOK_SECONDS", 15)
DATA = run.RESULTS / "data" / "webhook-delivery"


class Receiver:
    """Answers 200 to every delivery and notes when each event first arrived (ms), and its createdAt."""

    def __init__(self):
        self.expected = WRITES
        self.arrivals: dict[str, tuple[float, int]] = {}
        self.duplicates = 0
        self.all_in = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                arrived = time.time() * 1000
                event = json.loads(body)
                with receiver._lock:
                    if event["id"] in receiver.arrivals:
                        receiver.duplicates += 1
                    else:
                        receiver.arrivals[event["id"]] = (arrived, event["createdAt"])
                    if len(receiver.arrivals) >= receiver.expected:
                        receiver.all_in.set()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", run.free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


def post(session: requests.Session, url: str, body: dict, key: str, expected: int) -> dict:
    response = session.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    if response.status_code != expected:
        raise SystemExit(f"bench: POST {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def delays(arrivals: list[tuple[float, int]]) -> dict:
    """Arrival minus createdAt (ms) of each delivery."""
    waits = [arrived - created for arrived, created in arrivals]
    return {
        "p50": statistics.median(waits),
        "p90": percentile(waits, 0.90),
        "p99": percentile(waits, 0.99),
        "max": max(waits),
    }


def measure() -> dict:
    shutil.rmtree(DATA, ignore_errors=True)
    receiver = Receiver()
    try:
        with contextlib.ExitStack() as stacks:
            print("starting the full chain (make run's configuration)", flush=True)
            full = run.start(stacks, Stack, DATA, "webhook-delivery")
            base = f"http://127.0.0.1:{full.config.http_port}/api/v1"
            key = new_organization(full, "Bench Webhooks GmbH")["apiKey"]
            http = requests.Session()
            post(
                http, f"{base}/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["contact.created"]}, key, 201
            )
            local = threading.local()

            def write(number: int) -> None:
                if not hasattr(local, "http"):
                    local.http = requests.Session()
                post(
                    local.http,
                    f"{base}/crm/contacts",
                    {"email": f"c{number}@bench.example", "firstName": "B"},
                    key,
                    201,
                )

            events = full.processes["events"].pid
            cpu_before = run.cpu_seconds(events)
            print(f"making {WRITES} contacts with {run.CONNECTIONS} clients", flush=True)
            started = time.time() * 1000
            with concurrent.futures.ThreadPoolExecutor(run.CONNECTIONS) as clients:
                list(clients.map(write, range(WRITES)))
            written = time.time() * 1000
            if not receiver.all_in.wait(600):
                raise SystemExit(f"bench: only {len(receiver.arrivals)} of {WRITES} deliveries within 10 minutes")
            cpu = run.cpu_seconds(events) - cpu_before
            saturated = list(receiver.arrivals.values())

            paced = PACED_RATE * PACED_SECONDS
            print(f"paced: {PACED_RATE} contacts a second for {PACED_SECONDS} s", flush=True)
            receiver.arrivals.clear()
            receiver.all_in.clear()
            receiver.expected = paced
            with concurrent.futures.ThreadPoolExecutor(run.CONNECTIONS) as clients:
                begun = time.monotonic()
                for number in range(paced):
                    time.sleep(max(0.0, begun + number / PACED_RATE - time.monotonic()))
                    clients.submit(write, WRITES + number)
            if not receiver.all_in.wait(600):
                raise SystemExit(f"bench: only {len(receiver.arrivals)} of {paced} paced deliveries within 10 minutes")
            steady = list(receiver.arrivals.values())
    finally:
        receiver.server.shutdown()
    last = max(arrived for arrived, _ in saturated)
    return {
        "writes_per_s": WRITES / ((written - started) / 1000),
        "deliveries_per_s": WRITES / ((last - started) / 1000),
        "saturated": delays(saturated),
        "paced": delays(steady),
        "duplicates": receiver.duplicates,
        "cpu_ms": cpu * 1000 / WRITES,
    }


def report(r: dict) -> str:
    return "\n".join(
        [
            f"# bench/webhook_delivery.py, {time.strftime('%Y-%m-%d %H:%M %Z')}",
            "",
            f"- commit {run.commit()}; {run.machine()}; load average {run.LOAD_BEFORE:.1f} before the run",
            f"- {WRITES} POST /crm/contacts by {run.CONNECTIONS} clients; one endpoint (contact.created) on a local receiver",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| API writes per second (contact + its event committed) | {r['writes_per_s']:,.1f} |",
            f"| deliveries per second, first write to last delivery | {r['deliveries_per_s']:,.1f} |",
            f"| deliveries received twice | {r['duplicates']} |",
            f"| events process CPU per delivery (store, queue, sign, POST), ms | {r['cpu_ms']:,.1f} |",
            "",
            "Commit (the event's createdAt) to delivery, ms:",
            "",
            "| writes | p50 | p90 | p99 | max |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {label} | {d['p50']:,.0f} | {d['p90']:,.0f} | {d['p99']:,.0f} | {d['max']:,.0f} |"
                for label, d in (
                    (f"as fast as {run.CONNECTIONS} clients go (above)", r["saturated"]),
                    (f"paced, {PACED_RATE}/s for {PACED_SECONDS} s", r["paced"]),
                )
            ),
            "",
        ]
    )


def main() -> int:
    run.prepare()
    run.publish(report(measure()), "webhook_delivery.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
