"""Projects read throughput and latency at 100,000 projects, beside the CRM's, through the real gateway.

    .venv/bin/python bench/projects_reads.py          # about 1.5 min, plus ~10 s the first time (data)
    BENCH_REBUILD=1 .venv/bin/python bench/projects_reads.py

Cases (wrk through Envoy, the auth service and the service, on SQLite, as `make run` starts them):
GET /api/v1/projects/{id} over 1,000 ids and GET /api/v1/projects?limit=50 (also filtered by
status, and searched) in an organization with 100,000 projects; then the CRM's GET contact and
list 50 of bench/run.py's 10k data set in the same run, for comparison. It reuses run.py's stack
start, wrk driver and per-process CPU accounting, and run.py's BENCH_* settings. The table is
printed and written to bench/results/projects.md.
"""

import collections
import contextlib
import hashlib
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import time
import urllib.request

import run
import seed

from portal_common import db
from portal_stack.stack import Stack
from projects.adapters.repository import project_row
from projects.adapters.tables import project_code_counters, project_counts, projects
from projects.api.mapping import project_view
from projects.config import MIGRATIONS
from projects.domain.model import PRIORITIES, SUBTYPES, Budget, Project, code_year, project_code

PROJECTS = 100_000
DATA = run.RESULTS / "data" / "projects-100k"
SAMPLE_IDS = 1000
SPAN_MS = 3 * 365 * 24 * 3600 * 1000  # projects were created over the last three years
LIST = "/api/v1/projects?limit=50"
LIST_ACTIVE = "/api/v1/projects?status=active&limit=50"
SEARCH = "/api/v1/projects?search=redesign&limit=50"
WORDS = (
    "Website",
    "Redesign",
    "Mobile",
    "App",
    "Brand",
    "Campaign",
    "Migration",
    "Audit",
    "Launch",
    "Portal",
    "Analytics",
    "Onboarding",
    "Shop",
    "Newsletter",
    "Platform",
)
DETAIL = (
    "<h2>Scope</h2><p>Discovery workshops, wireframes and <strong>two rounds</strong> of design review.</p>"
    "<ul><li>Content inventory</li><li>Responsive templates</li><li>Launch checklist</li></ul>"
    '<p>See <a href="https://example.com/brief">the brief</a>.</p>'
)


def make_projects(organization_id: str, start_ms: int):
    """PROJECTS plausible projects, oldest first, with codes numbered per year as the service does."""
    rng = random.Random(0)
    numbers = collections.Counter()
    clients = [f"co_BENCHCLIENT{i:014d}" for i in range(200)]
    step = SPAN_MS // PROJECTS
    for i in range(PROJECTS):
        created = start_ms + i * step
        year = code_year(created)
        numbers[year] += 1
        status = rng.choices(("draft", "planning", "active", "on_hold", "completed", "cancelled"), (1, 1, 3, 1, 3, 1))[
            0
        ]
        subtype = rng.choice(SUBTYPES)
        start = created + rng.randrange(30) * 86_400_000 if rng.random() < 0.8 else None
        yield Project(
            id=seed.ulid("prj", created, rng),
            organization_id=organization_id,
            project_code=project_code(year, numbers[year]),
            subtype=subtype,
            name=" ".join(rng.sample(WORDS, 2)) + f" {i}",
            created_by="key_bench",
            description="Complete redesign of corporate website" if rng.random() < 0.3 else None,
            status=status,
            start_date=start,
            target_end_date=start + rng.randrange(30, 365) * 86_400_000 if start else None,
            budget=Budget(rng.randrange(1, 500) * 100_000, rng.choice(("USD", "EUR", "GBP")))  # 1,000 to 499,000
            if rng.random() < 0.7
            else None,
            priority=rng.choice(PRIORITIES),
            progress=rng.randrange(101),
            client_org_id=rng.choice(clients) if subtype == "client_project" else None,
            detailed_description=DETAIL if rng.random() < 0.5 else None,
            created_at=created,
            updated_at=created + rng.randrange(10**8),
        )


def fingerprint() -> str:
    """What the data set depends on: this file and the projects migrations."""
    digest = hashlib.sha256(pathlib.Path(__file__).read_bytes())
    for path in sorted(MIGRATIONS.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(print_: str) -> dict:
    """An organization with PROJECTS projects written straight into a projects database (through
    the API that would take an hour), with the columns the service's repository writes."""
    scratch = DATA.with_name(DATA.name + ".building")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    env = {"PORTAL_DATA_DIR": str(scratch), **seed.database_env(scratch)}
    created = json.loads(
        subprocess.run(
            [str(seed.BIN / "portal"), "org", "create", "Bench 100k projects"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    engine = db.create_engine(f"sqlite:///{scratch / 'projects.db'}")
    db.migrate(engine, MIGRATIONS)  # as the service does when it starts
    counts, years, sample, rows = collections.Counter(), collections.Counter(), [], []
    with engine.begin() as connection:
        for i, project in enumerate(make_projects(created["organizationId"], int(time.time() * 1000) - SPAN_MS)):
            rows.append(project_row(project, project_view(project)))
            counts[project.count_key] += 1
            years[code_year(project.created_at)] += 1
            if i % (PROJECTS // SAMPLE_IDS) == 0:  # ids spread over the whole table
                sample.append(project.id)
            if len(rows) == 10_000:
                connection.execute(projects.insert(), rows)
                rows = []
        if rows:
            connection.execute(projects.insert(), rows)
        # The counters that list totals and new codes are read from, consistent with the rows.
        connection.execute(
            project_counts.insert(),
            [
                {
                    "organization_id": created["organizationId"],
                    "status": status,
                    "subtype": subtype,
                    "priority": priority,
                    "count": n,
                }
                for (status, subtype, priority), n in counts.items()
            ],
        )
        connection.execute(
            project_code_counters.insert(),
            [
                {"organization_id": created["organizationId"], "year": year, "last_number": n}
                for year, n in years.items()
            ],
        )
    engine.dispose()
    active = sum(n for (status, _, _), n in counts.items() if status == "active")
    meta = {
        "fingerprint": print_,
        "projects": PROJECTS,
        "activeProjects": active,
        "sampleProjectIds": sample,
        **created,
    }
    (scratch / "dataset.json").write_text(json.dumps(meta))
    shutil.rmtree(DATA, ignore_errors=True)
    scratch.rename(DATA)
    return meta


def ensure_data() -> dict:
    marker, print_ = DATA / "dataset.json", fingerprint()
    if not run.REBUILD and marker.exists() and json.loads(marker.read_text()).get("fingerprint") == print_:
        return json.loads(marker.read_text())
    print(f"building a data set of {PROJECTS:,} projects in {DATA} ...", flush=True)
    started = time.monotonic()
    meta = build(print_)
    print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
    return meta


_check_crm_reply = run.check


def check(base: str, path: str, api_key: str, total: int | None) -> None:
    """run.measure checks one reply before the load with run.check, which knows CRM replies only;
    projects replies are checked here (a project, or a full page with the right total)."""
    if not path.startswith("/api/v1/projects"):
        return _check_crm_reply(base, path, api_key, total)
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {api_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    if "projects" in body:
        if len(body["projects"]) != run.PAGE or (total is not None and body["total"] != total):
            raise SystemExit(f"bench: unexpected list reply: {len(body['projects'])} projects, total {body['total']}")
    elif "_id" not in body:
        raise SystemExit(f"bench: unexpected reply to {path}: {str(body)[:200]}")


run.check = check


def run_cases() -> dict[str, dict]:
    data = ensure_data()
    crm = seed.ensure(run.RESULTS / "data" / "10k", 10_000, run.REBUILD)
    key = data["apiKey"]
    with contextlib.ExitStack() as stacks:
        print("starting the full chain (gateway + auth + CRM + projects + SQLite) on both data sets", flush=True)
        full = run.start(stacks, Stack, DATA, "projects-100k")
        full_crm = run.start(stacks, Stack, run.RESULTS / "data" / "10k", "crm-10k")
        results = {
            "get": run.measure(
                "projects: GET project (100k org)",
                full,
                [f"/api/v1/projects/{i}" for i in data["sampleProjectIds"]],
                key,
            ),
            "crm_get": run.measure(
                "crm: GET contact (10k org)",
                full_crm,
                [f"/api/v1/crm/contacts/{i}" for i in crm["sampleContactIds"]],
                crm["apiKey"],
            ),
            "list": run.measure("projects: list 50 of 100k", full, [LIST], key, PROJECTS),
            "crm_list": run.measure(
                "crm: list 50 of 10k", full_crm, [run.LIST_PATH], crm["apiKey"], crm["activeContacts"]
            ),
            "list_active": run.measure(
                "projects: list 50, status=active", full, [LIST_ACTIVE], key, data["activeProjects"]
            ),
            "search": run.measure("projects: list 50, search=redesign", full, [SEARCH], key),
        }
    return results


def report(results: dict[str, dict]) -> str:
    lines = [
        f"# bench/projects_reads.py, {time.strftime('%Y-%m-%d %H:%M %Z')}",
        "",
        f"- commit {run.commit()}; {run.machine()}; load average {run.LOAD_BEFORE:.1f} before the run",
        f"- wrk -t{run.THREADS} -c{run.CONNECTIONS} -d{run.DURATION}s after a {run.WARMUP} s warm-up; "
        f"Envoy {run.envoy_version()}",
        "",
        "| case | req/s | p50 ms | p99 ms | service CPU µs/req | envoy CPU µs/req | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        service = "projects" if r["label"].startswith("projects") else "crm"
        lines.append(
            f"| {r['label']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} "
            f"| {r['cpu_us'][service]:.0f} | {r['cpu_us']['envoy']:.0f} | {r['non2xx']} "
            f"| {r['socket_errors']} |"
        )
    if any(r["non2xx"] or r["socket_errors"] for r in results.values()):
        lines += ["", "**Some requests failed: the figures above are not valid.**"]
    return "\n".join(lines) + "\n"


def main() -> int:
    run.prepare()
    run.publish(report(run_cases()), "projects.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
