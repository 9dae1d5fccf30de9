"""The write path: creates per second through the full chain, as `make run` starts it.

    .venv/bin/python bench/writes.py          # about 1 min (plus seconds for the 10k data set the first time)

Cases (wrk, BENCH_CONNECTIONS=16 connections, through Envoy, the auth service and the services, on
SQLite), in a copy of bench/run.py's 10k-contact organization made afresh for each run:
- POST /api/v1/crm/contacts, each request a new email (a wrk thread's counter and the run's tag):
  every answer must be 201 (created), not 200 (updated);
- POST /api/v1/invoices, a b2c_single draft of 3 lines billed to a name and an email only (the CRM
  is not asked);
- the same draft billed to a contactId (1,000 of the organization's contacts in turn): invoicing
  asks the CRM for the contact's name and email.
Answers other than 201 are counted and the first ones printed; any makes the figures invalid. It
reuses run.py's stack start, wrk driver, per-process CPU accounting and BENCH_* settings, and
writes bench/results/writes.md.
"""

import contextlib
import itertools
import json
import shutil
import sys
import time
import urllib.request

import run
import seed

from portal_stack.stack import Stack

DATA = run.RESULTS / "data" / "writes-10k"
SCRIPT = run.BENCH / "writes.lua"
CASES = (  # (key, label, writes.lua case, path)
    ("contact", "POST /crm/contacts (create)", "contact", "/api/v1/crm/contacts"),
    ("invoice_billto", "POST /invoices (billTo name + email)", "invoice-billto", "/api/v1/invoices"),
    ("invoice_contact", "POST /invoices (billTo contactId: asks the CRM)", "invoice-contact", "/api/v1/invoices"),
)
_runs = itertools.count()


def wrk_writes(base: str, case: str, api_key: str, ids_file: str, seconds: int) -> dict:
    """One wrk run of writes.lua; the run tag keeps the emails of every run (warm-up included) new."""
    tag = f"{int(time.time())}x{next(_runs)}"
    figures = run.wrk_script(base, SCRIPT, [api_key, case, tag, ids_file], seconds)
    out = figures["output"].splitlines()
    figures["not_created"] = int(next(line.split()[1] for line in out if line.startswith("BENCH_NOT_CREATED ")))
    figures["failures"] = [line.removeprefix("BENCH_FAILURE ") for line in out if line.startswith("BENCH_FAILURE ")]
    return figures


def check(base: str, path: str, api_key: str, body: dict) -> None:
    """One create before the load, which must answer 201 with the new record's id."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        status, reply = response.status, json.load(response)
    if status != 201 or not (reply.get("contactId") or reply.get("_id")):
        raise SystemExit(f"bench: unexpected reply to POST {path}: {status} {str(reply)[:200]}")


def run_cases() -> dict[str, dict]:
    small = seed.ensure(run.RESULTS / "data" / "10k", 10_000, run.REBUILD)
    shutil.rmtree(DATA, ignore_errors=True)  # a fresh copy: the reads' data set stays as built
    shutil.copytree(run.RESULTS / "data" / "10k", DATA)
    ids_file = run.RESULTS / "contact-ids.txt"
    ids_file.write_text("\n".join(small["sampleContactIds"]) + "\n")
    key = small["apiKey"]
    bodies = {
        "contact": {"email": f"bench.check.{time.time_ns()}@writes.example", "firstName": "Bench"},
        "invoice-billto": {
            "type": "b2c_single",
            "currency": "EUR",
            "billTo": {"name": "A", "email": "a@example.com"},
            "lineItems": [{"description": "Check", "quantity": 1, "unitPriceInCents": 100}],
        },
        "invoice-contact": {
            "type": "b2c_single",
            "currency": "EUR",
            "billTo": {"contactId": small["sampleContactIds"][0]},
            "lineItems": [{"description": "Check", "quantity": 1, "unitPriceInCents": 100}],
        },
    }
    results = {}
    with contextlib.ExitStack() as stacks:
        print(
            "starting the full chain (gateway + auth + CRM + invoicing + SQLite) on a copy of the 10k data set",
            flush=True,
        )
        full = run.start(stacks, Stack, DATA, "writes-10k")
        base = f"http://127.0.0.1:{full.config.http_port}"
        for name, label, case, path in CASES:
            check(base, path, key, bodies[case])
            results[name] = run.measure_load(
                label, full, lambda seconds, case=case: wrk_writes(base, case, key, str(ids_file), seconds)
            )
            for failure in results[name]["failures"]:
                print(f"    not 201: {failure}", flush=True)
    return results


def report(results: dict[str, dict]) -> str:
    lines = [
        f"# bench/writes.py, {time.strftime('%Y-%m-%d %H:%M %Z')}",
        "",
        f"- commit {run.commit()}; {run.machine()}; load average {run.LOAD_BEFORE:.1f} before the run",
        f"- wrk -t{run.THREADS} -c{run.CONNECTIONS} -d{run.DURATION}s after a {run.WARMUP} s warm-up; "
        f"Envoy {run.envoy_version()}",
        "",
        "| case | req/s | p50 ms | p99 ms | crm CPU µs/req | invoicing CPU µs/req | envoy CPU µs/req "
        "| auth CPU µs/req | not 201 | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        cpu = " | ".join(f"{r['cpu_us'][name]:.0f}" for name in ("crm", "invoicing", "envoy", "auth"))
        lines.append(
            f"| {r['label']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} "
            f"| {cpu} | {r['not_created']} | {r['socket_errors']} |"
        )
    failed = [f"- {r['label']}: {failure}" for r in results.values() for failure in r["failures"]]
    if any(r["not_created"] or r["socket_errors"] for r in results.values()):
        lines += ["", "**Some requests failed or created nothing: the figures above are not valid.**", *failed]
    return "\n".join(lines) + "\n"


def main() -> int:
    run.prepare()
    run.publish(report(run_cases()), "writes.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
