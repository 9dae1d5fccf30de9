"""`make bench`: REST throughput and latency of the CRM reads, against the ceiling the stack allows.

Full chain: wrk -> Envoy (gateway/envoy.yaml.in) -> CRM gRPC service (API-key auth interceptor)
-> SQLite, started by portal_stack exactly as `make run` does. Ceiling: the same rendered gateway
in front of bench/trivial_crm.py, which answers with constant replies of the same shape. See
bench/README.md for what the figures mean and the options below.

Options (environment): BENCH_SKIP_1M=1 skips the million-contact case; BENCH_DURATION (s, 10),
BENCH_WARMUP (s, 3), BENCH_THREADS (1), BENCH_CONNECTIONS (16) tune wrk; BENCH_REBUILD=1
rebuilds the cached data sets.
"""

import contextlib
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import socket
import subprocess
import sys
import urllib.request

import seed

from portal_stack import stack as portal_stack
from portal_stack.stack import Stack, StackConfig

BENCH = pathlib.Path(__file__).resolve().parent
RESULTS = BENCH / "results"
REPO = BENCH.parent
LIST_PATH = "/api/v1/crm/contacts?limit=50"
PAGE = 50


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


DURATION = env_int("BENCH_DURATION", 10)
WARMUP = env_int("BENCH_WARMUP", 3)
THREADS = env_int("BENCH_THREADS", 1)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 16)
SKIP_1M = os.environ.get("BENCH_SKIP_1M", "") not in ("", "0")
REBUILD = os.environ.get("BENCH_REBUILD", "") not in ("", "0")
LOAD_BEFORE = os.getloadavg()[0]  # other work on the machine skews everything; say how much there was


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise SystemExit("bench: wrk is not installed; install it (Debian: apt-get install -y wrk) and rerun")
        print("bench: installing wrk (apt-get update && apt-get install -y wrk) ...", flush=True)
        subprocess.run(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk", shell=True, check=True
        )
    return shutil.which("wrk")


class CeilingStack(Stack):
    """The same gateway as Stack starts, in front of the trivial CRM instead of auth + CRM."""

    def start_service(self, name: str) -> None:
        if name != "crm":
            return  # the trivial CRM checks no API key, so needs no auth service
        self._spawn("crm", [sys.executable, str(BENCH / "trivial_crm.py")])
        portal_stack._wait_healthy("crm", self.processes["crm"], f"127.0.0.1:{self.config.service_ports['crm']}")


def start(stacks: contextlib.ExitStack, stack_class, data_dir: pathlib.Path, name: str) -> Stack:
    """Starts a stack on free ports, to be stopped when `stacks` closes."""
    logs = RESULTS / "logs" / name
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    # What `make run` would use (StackConfig.from_env), on free ports and the data set's databases.
    config = dataclasses.replace(
        StackConfig.from_env(),
        data_dir=data_dir,
        http_port=free_port(),
        admin_port=free_port(),
        listen_address="127.0.0.1",
        api_rate_per_minute=100_000_000,  # the per-key rate limit stays in the chain but never bites
        service_ports={service: free_port() for service in portal_stack.SERVICES},
        metrics_ports={},  # no Prometheus endpoints: stacks side by side would want the same default ports
        extra_env=seed.database_env(data_dir),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    running = stack_class(config, log_dir=logs)
    running.start()
    stacks.callback(running.stop)
    return running


def check(base: str, path: str, api_key: str, total: int | None) -> None:
    """One request before the load: a benchmark of error replies would be worthless."""
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {api_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    if "contacts" in body:
        if len(body["contacts"]) != PAGE or (total is not None and body["total"] != total):
            raise SystemExit(f"bench: unexpected list reply: {len(body['contacts'])} contacts, total {body['total']}")
    elif "id" not in body:
        raise SystemExit(f"bench: unexpected reply to {path}: {str(body)[:200]}")


def wrk_script(base: str, script: pathlib.Path, args: list[str], seconds: int) -> dict:
    """wrk with a script whose done() prints BENCH_RESULT (latency.lua's): its figures, req/s and wrk's output."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
            "--",
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_RESULT "))
    figures = json.loads(line.removeprefix("BENCH_RESULT "))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["output"] = out
    return figures


def wrk(base: str, paths: list[str], api_key: str, seconds: int) -> dict:
    paths_file = RESULTS / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    return wrk_script(base, BENCH / "latency.lua", [api_key, str(paths_file)], seconds)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(label: str, running: Stack, paths: list[str], api_key: str, total: int | None = None) -> dict:
    """One case of GETs: a check of one reply, then measure_load with latency.lua on `paths`."""
    base = f"http://127.0.0.1:{running.config.http_port}"
    check(base, paths[0], api_key, total)
    return measure_load(label, running, lambda seconds: wrk(base, paths, api_key, seconds))


def measure_load(label: str, running: Stack, load) -> dict:
    """A warm-up, then the measured run (`load(seconds)` runs wrk and returns its figures), with the CPU
    each process spent per request (less sensitive to other load on the machine than req/s, and it
    says where the time goes)."""
    print(f"  {label} ...", end="", flush=True)
    load(WARMUP)  # fills caches, pools and the auth cache; not counted
    before = {name: cpu_seconds(p.pid) for name, p in running.processes.items()}
    figures = load(DURATION)
    figures["cpu_us"] = {
        name: (cpu_seconds(p.pid) - before[name]) / figures["requests"] * 1e6 for name, p in running.processes.items()
    }
    dead = running.exited()
    if dead:
        raise SystemExit(f"bench: {dead} exited during the run; see {RESULTS / 'logs'}")
    print(
        f" {figures['rps']:,.0f} req/s, p50 {figures['p50_us'] / 1000:.2f} ms, p99 {figures['p99_us'] / 1000:.2f} ms",
        flush=True,
    )
    return {"label": label, **figures}


def run_cases() -> dict[str, dict]:
    small = seed.ensure(RESULTS / "data" / "10k", 10_000, REBUILD)
    big = None if SKIP_1M else seed.ensure(RESULTS / "data" / "1m", 1_000_000, REBUILD)
    key = small["apiKey"]  # the ceiling checks no key, but gets the same header
    get_paths = [f"/api/v1/crm/contacts/{i}" for i in small["sampleContactIds"]]
    with contextlib.ExitStack() as stacks:
        # All stacks run side by side (idle ones cost nothing), so that each full-chain case runs
        # right after its ceiling: on a noisy machine, neighbours in time compare best.
        print(
            "starting the ceiling (gateway + trivial CRM) and the full chain (gateway + auth + CRM + SQLite)",
            flush=True,
        )
        ceiling = start(stacks, CeilingStack, RESULTS / "ceiling", "ceiling")
        full = start(stacks, Stack, RESULTS / "data" / "10k", "full-10k")
        full_1m = start(stacks, Stack, RESULTS / "data" / "1m", "full-1m") if big else None
        results = {
            "ceiling_get": measure("ceiling: GET contact", ceiling, get_paths, key),
            "get": measure("full: GET contact (10k org)", full, get_paths, key),
            "ceiling_list": measure("ceiling: list 50", ceiling, [LIST_PATH], key),
            "list_10k": measure("full: list 50 of 10k", full, [LIST_PATH], key, small["activeContacts"]),
        }
        if big:
            results["list_1m"] = measure(
                "full: list 50 of 1M", full_1m, [LIST_PATH], big["apiKey"], big["activeContacts"]
            )
            results["get_1m"] = measure(
                "full: GET contact (1M org)",
                full_1m,
                [f"/api/v1/crm/contacts/{i}" for i in big["sampleContactIds"]],
                big["apiKey"],
            )
    return results


def ratio_rows(results: dict[str, dict]) -> list[tuple[str, float, str, bool]]:
    """(what, value, target, met) for each ratio that this run can compute."""
    rows = []
    for key, ceiling in (("get", "ceiling_get"), ("list_10k", "ceiling_list"), ("list_1m", "ceiling_list")):
        if key in results:
            value = results[key]["rps"] / results[ceiling]["rps"]
            rows.append(
                (f"{results[key]['label']} ÷ {results[ceiling]['label']} (req/s)", value, ">= 0.70", value >= 0.70)
            )
    if "list_1m" in results:
        value = results["list_1m"]["p50_us"] / results["list_10k"]["p50_us"]
        rows.append(("list p50 at 1M ÷ list p50 at 10k", value, "<= 2.0", value <= 2.0))
    return rows


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def envoy_version() -> str:
    envoy = shutil.which("envoy", path=str(portal_stack.BIN)) or "envoy"
    out = subprocess.run([envoy, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version: \w+/([\w.-]+)/", out)  # "version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
    return found.group(1) if found else "?"


def commit() -> str:
    """The checkout's commit, and whether the tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    short = git("rev-parse", "--short", "HEAD")
    return short + " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else short


def report(results: dict[str, dict]) -> str:
    lines = [
        f"# make bench, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        f"- commit {commit()}; {machine()}; load average {LOAD_BEFORE:.1f} before the run",
        f"- wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s after a {WARMUP} s warm-up; Envoy {envoy_version()}; "
        f"Python {platform.python_version()}",
        "",
        "| case | req/s | p50 ms | p99 ms | crm CPU µs/req | envoy CPU µs/req | auth CPU µs/req | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        cpu = [f"{r['cpu_us'][name]:.0f}" if name in r["cpu_us"] else "-" for name in ("crm", "envoy", "auth")]
        lines.append(
            f"| {r['label']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} "
            f"| {' | '.join(cpu)} | {r['non2xx']} | {r['socket_errors']} |"
        )
    lines += ["", "| ratio | value | target | |", "|---|---:|---:|---|"]
    for what, value, target, met in ratio_rows(results):
        lines.append(f"| {what} | {value:.2f} | {target} | {'met' if met else 'MISSED'} |")
    if any(r["non2xx"] or r["socket_errors"] for r in results.values()):
        lines += ["", "**Some requests failed: the figures above are not valid.**"]
    return "\n".join(lines) + "\n"


def prepare() -> None:
    """What every benchmark needs before it runs: wrk, and bench/results/ for its data and logs."""
    ensure_wrk()
    RESULTS.mkdir(exist_ok=True)


def publish(text: str, name: str) -> None:
    """Prints a benchmark's report and keeps it as bench/results/<name>."""
    (RESULTS / name).write_text(text)
    print("\n" + text)
    print(f"written to {RESULTS / name}")


def main() -> int:
    prepare()
    publish(report(run_cases()), "latest.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
