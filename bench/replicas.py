"""CRM read throughput through the gateway with 1 and with 2 CRM processes, side by side.

    .venv/bin/python bench/replicas.py       # about 2 min, plus ~1 min the first time (data)

Two stacks as `make run` starts them (StackConfig.from_env, SQLite), on copies of bench/run.py's
10k-contact data set: one with CRM_PROCESSES=1, one with CRM_PROCESSES=2 (Envoy balances over both
with least-request; each has its own SQLite connections to the one file). Cases, each on both
stacks one right after the other: GET /api/v1/crm/contacts?limit=50 and GET /api/v1/crm/contacts/{id}
over 1,000 ids. It reuses run.py's wrk driver, reply check and per-process CPU accounting (from
/proc/<pid>/stat), and run.py's BENCH_* settings. The table (req/s, latency, CPU µs per request of
the CRM processes together, of Envoy and of auth, and the 2 ÷ 1 ratios) is printed and written to
bench/results/replicas.md.

On 2 cores the gain is bounded: wrk, Envoy and auth share the cores with the CRM processes, and
one CRM process already keeps about one core busy.
"""

import contextlib
import dataclasses
import datetime
import platform
import shutil
import sys

import run
import seed

from portal_stack.stack import Stack

CASES = (("list 50 of 10k", [run.LIST_PATH]), ("GET contact", None))


def stack_class(crm_processes: int) -> type[Stack]:
    """The stack of `make run` with CRM_PROCESSES=`crm_processes`."""

    class BenchStack(Stack):
        def __init__(self, config, log_dir=None):
            processes = {**config.processes, "crm": crm_processes}
            super().__init__(dataclasses.replace(config, processes=processes), log_dir)

    return BenchStack


def copy_of(source, name: str):
    """A copy of the data set's directory (each stack keeps its own databases and Envoy config)."""
    target = run.RESULTS / "data" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return target


def crm_cpu_us(result: dict) -> float:
    """CPU µs per request of every CRM process together ("crm", "crm-2")."""
    return sum(us for name, us in result["cpu_us"].items() if name.split("-")[0] == "crm")


def run_cases() -> list[tuple[str, dict, dict]]:
    source = run.RESULTS / "data" / "10k"
    data = seed.ensure(source, 10_000, run.REBUILD)
    key = data["apiKey"]
    get_paths = [f"/api/v1/crm/contacts/{i}" for i in data["sampleContactIds"]]
    rows = []
    with contextlib.ExitStack() as stacks:
        print("starting a stack with 1 CRM process and one with 2", flush=True)
        one = run.start(stacks, stack_class(1), copy_of(source, "10k-crm1"), "crm1")
        two = run.start(stacks, stack_class(2), copy_of(source, "10k-crm2"), "crm2")
        for label, paths in CASES:
            paths = paths or get_paths
            total = data["activeContacts"] if paths == [run.LIST_PATH] else None
            single = run.measure(f"1 CRM process: {label}", one, paths, key, total)
            double = run.measure(f"2 CRM processes: {label}", two, paths, key, total)
            rows.append((label, single, double))
    return rows


def report(rows: list[tuple[str, dict, dict]]) -> str:
    lines = [
        f"# bench/replicas.py, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        f"- commit {run.commit()}; {run.machine()}; load average {run.LOAD_BEFORE:.1f} before the run",
        f"- wrk -t{run.THREADS} -c{run.CONNECTIONS} -d{run.DURATION}s after a {run.WARMUP} s warm-up; "
        f"Envoy {run.envoy_version()}; Python {platform.python_version()}",
        "",
        "| case | req/s | p50 ms | p99 ms | CRM CPU µs/req (all processes) | envoy CPU µs/req | auth CPU µs/req "
        "| non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, *results in rows:
        for r in results:
            lines.append(
                f"| {r['label']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} "
                f"| {crm_cpu_us(r):.0f} | {r['cpu_us']['envoy']:.0f} | {r['cpu_us']['auth']:.0f} "
                f"| {r['non2xx']} | {r['socket_errors']} |"
            )
    lines += ["", "| 2 processes ÷ 1 | req/s | p50 | CRM CPU µs/req |", "|---|---:|---:|---:|"]
    for label, single, double in rows:
        lines.append(
            f"| {label} | {double['rps'] / single['rps']:.2f} | {double['p50_us'] / single['p50_us']:.2f} "
            f"| {crm_cpu_us(double) / crm_cpu_us(single):.2f} |"
        )
    if any(r["non2xx"] or r["socket_errors"] for _, *results in rows for r in results):
        lines += ["", "**Some requests failed: the figures above are not valid.**"]
    return "\n".join(lines) + "\n"


def main() -> int:
    run.prepare()
    run.publish(report(run_cases()), "replicas.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
