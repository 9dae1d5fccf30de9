"""Benchmark data sets: an organization, its API key and N contacts, cached under bench/results/data/.

A data set is a portal data directory (auth.db, crm.db) plus dataset.json naming the organization,
its API key and a sample of contact ids. Contacts are written straight into the CRM database with
SQLAlchemy Core bulk inserts (through the API, a million would take hours), with the column
values computed by the service's own repository code, so the rows are exactly what it would write.
"""

import base64
import collections
import hashlib
import json
import multiprocessing
import os
import pathlib
import random
import shutil
import subprocess
import sys
import time

import sqlalchemy as sa

from auth.config import MIGRATIONS as AUTH_MIGRATIONS
from crm.adapters.repository import ContactRepository, CrmOrganizationRepository
from crm.adapters.tables import contact_counts, contacts
from crm.api.mapping import contact_view
from crm.config import MIGRATIONS as CRM_MIGRATIONS
from crm.domain.model import Contact, CrmOrganization, EventRegistration
from portal_common import db

BIN = pathlib.Path(sys.executable).parent
SAMPLE_IDS = 1000  # active contact ids that the GetContact cases rotate through
CHUNK = 20_000  # contacts generated (in a worker process) and inserted at a time
SPAN_MS = 3 * 365 * 24 * 3600 * 1000  # contacts were created over the last three years

FIRST = (
    "Ada Alan Grace Linus Barbara Ken Margaret Dennis Frances John Edsger Donald Radia Tim Sophie "
    "Guido Anita Bjarne Hedy Niklaus Katherine Claude Joan Leslie Mary Vint Shafi Robin Lynn Yukihiro"
).split()
LAST = (
    "Lovelace Turing Hopper Torvalds Liskov Thompson Hamilton Ritchie Allen McCarthy Dijkstra Knuth "
    "Perlman Berners-Lee Wilson Rossum Borg Stroustrup Lamarr Wirth Johnson Shannon Clarke Lamport "
    "Keller Cerf Goldwasser Milner Conway Matsumoto"
).split()
COMPANIES = [
    f"{a} {b}"
    for a in ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne")
    for b in ("Labs", "Systems", "Industries", "Consulting", "Group")
]
TITLES = ("Engineer", "CTO", "Head of Sales", "Office Manager", "Procurement Lead", "Founder", "Analyst")
TAGS = ("newsletter", "vip", "webinar", "trial", "partner", "conference-2024", "churn-risk")

# The row values a contact is stored with, as the service's repository computes them (read model included).
_contact_values = ContactRepository(None, contact_view)._values

# Ids are ULIDs ("ct_" + 26 Crockford base-32 digits of 48 bits of milliseconds and 80 random
# bits, as portal_common.ids makes them), so they sort by creation time. Standard base32 plus a
# translation is ~10x faster than digit-by-digit division, which matters at a million rows.
_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def ulid(prefix: str, ms: int, rng: random.Random) -> str:
    value = (ms << 80) | rng.getrandbits(80)  # 128 bits; 26 digits hold 130
    digits = base64.b32encode((value << 30).to_bytes(20, "big")).decode()[:26]  # 160 bits = 32 digits
    return f"{prefix}_{digits.translate(_TO_CROCKFORD)}"


def crm_organizations_of(organization_id: str, start_ms: int) -> list[CrmOrganization]:
    """One CRM organization per company name, so contacts carry a crmOrganizationId like real ones."""
    rng = random.Random(0)
    return [
        CrmOrganization(
            id=ulid("co", start_ms + i, rng),
            organization_id=organization_id,
            name=name,
            website=f"https://www.{name.split()[0].lower()}.example",
            industry="Software",
            city="Springfield",
            country="US",
            created_at=start_ms + i,
            updated_at=start_ms + i,
        )
        for i, name in enumerate(COMPANIES)
    ]


def make_contacts(
    organization_id: str,
    count: int,
    start_ms: int,
    company_ids: dict[str, str],
    first: int = 0,
    stop: int | None = None,
):
    """Contacts number `first` to `stop` of `count` plausible ones, oldest first, created_at strictly
    increasing. Deterministic, chunk by chunk, so that worker processes can make chunks apart."""
    rng = random.Random(f"{count}/{first}")
    step = max(1, SPAN_MS // count)
    for i in range(first, count if stop is None else stop):
        created = start_ms + i * step
        first_name, last_name = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES) if rng.random() < 0.8 else None
        source = rng.choices(("api", "import", "event"), (5, 3, 2))[0]
        events = []
        if source == "event":
            events = [
                EventRegistration(
                    event_id=f"ev_{i % 97}",
                    event_name="Product Launch Webinar",
                    event_date=created + 86_400_000,
                    registered_at=created,
                )
            ]
        yield Contact(
            id=ulid("ct", created, rng),
            organization_id=organization_id,
            email=f"{first_name}.{last_name}.{i}@{(company or 'mail').split()[0]}.example",
            first_name=first_name,
            last_name=last_name,
            phone=f"+1-555-{rng.randrange(10**7):07d}" if rng.random() < 0.7 else None,
            company=company,
            job_title=rng.choice(TITLES) if rng.random() < 0.6 else None,
            subtype=rng.choices(("lead", "customer", "prospect"), (6, 3, 1))[0],
            status="active" if rng.random() < 0.9 else "inactive",
            source=source,
            source_ref=events[0].event_id if events else None,
            tags=rng.sample(TAGS, rng.randrange(4)),
            notes="Met at the booth; interested in the annual plan." if rng.random() < 0.2 else None,
            custom_fields={"tier": rng.choice(("gold", "silver"))} if rng.random() < 0.3 else {},
            crm_organization_id=company_ids.get(company),
            events=events,
            created_at=created,
            updated_at=created + rng.randrange(10**8),
        )


def _chunk(job: tuple) -> tuple[list[dict], collections.Counter, list[str]]:
    """In a worker process: one chunk's column values, its counter buckets and its active ids."""
    organization_id, count, start_ms, company_ids, first = job
    values, counts, active_ids = [], collections.Counter(), []
    for contact in make_contacts(organization_id, count, start_ms, company_ids, first, min(first + CHUNK, count)):
        values.append(_contact_values(contact))  # exactly the columns the service's repository writes
        counts[contact.count_key] += 1
        if contact.status == "active" and len(active_ids) < SAMPLE_IDS:
            active_ids.append(contact.id)
    return values, counts, active_ids


def insert_contacts(crm_url: str, organization_id: str, count: int) -> tuple[list[str], int]:
    """Writes the contacts, their CRM organizations and counters; returns (sample of ids, active count)."""
    engine = sa.create_engine(crm_url)
    start_ms = int(time.time() * 1000) - SPAN_MS
    organizations = crm_organizations_of(organization_id, start_ms - 1000)
    company_ids = {o.name: o.id for o in organizations}
    counts, ids = collections.Counter(), []
    jobs = [(organization_id, count, start_ms, company_ids, first) for first in range(0, count, CHUNK)]
    # Making the values costs about as much as inserting them: workers make chunks while this
    # process inserts, in order (ids ascending keeps the primary key index appending).
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool, engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=OFF")  # a throwaway build: a crash means rebuilding
        organization_rows = CrmOrganizationRepository(connection)
        for organization in organizations:
            organization_rows.add(organization)
        for values, chunk_counts, active_ids in pool.imap(_chunk, jobs):
            connection.execute(contacts.insert(), values)
            counts.update(chunk_counts)
            ids += active_ids[: SAMPLE_IDS - len(ids)]
        # The counters that list totals are read from, consistent with the rows.
        connection.execute(
            contact_counts.insert(),
            [
                {"organization_id": organization_id, "status": status, "subtype": subtype, "source": source, "count": n}
                for (status, subtype, source), n in counts.items()
            ],
        )
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return ids, sum(n for (status, _, _), n in counts.items() if status == "active")


def fingerprint() -> str:
    """What a data set's rows depend on: both schemas as migrated, and the values the repository
    computes for sample contacts. When it changes, cached data sets are stale and get rebuilt."""
    digest = hashlib.sha256(pathlib.Path(__file__).read_bytes())
    for migrations in (AUTH_MIGRATIONS, CRM_MIGRATIONS):
        engine = db.create_engine("sqlite://")
        db.migrate(engine, migrations)
        with engine.connect() as connection:
            digest.update(
                repr(
                    connection.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name").all()
                ).encode()
            )
        engine.dispose()
    digest.update(repr(_chunk(("org_fingerprint", 100, 0, {}, 0))).encode())
    return digest.hexdigest()[:16]


def database_env(data_dir: pathlib.Path) -> dict[str, str]:
    """Database URLs of a data directory, set explicitly so a *_DATABASE_URL in the shell cannot leak in."""
    return {f"{name.upper()}_DATABASE_URL": f"sqlite:///{data_dir / f'{name}.db'}" for name in ("auth", "crm")}


def build(data_dir: pathlib.Path, count: int, print_: str) -> dict:
    """Creates the data set in a scratch directory, then moves it into place (a half-built one never counts)."""
    scratch = data_dir.with_name(data_dir.name + ".building")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    env = {"PORTAL_DATA_DIR": str(scratch), **database_env(scratch)}
    created = json.loads(
        subprocess.run(
            [str(BIN / "portal"), "org", "create", f"Bench {count:,} contacts"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    db.migrate(db.create_engine(env["CRM_DATABASE_URL"]), CRM_MIGRATIONS)  # as the service does on start
    ids, active = insert_contacts(env["CRM_DATABASE_URL"], created["organizationId"], count)
    meta = {"fingerprint": print_, "contacts": count, "activeContacts": active, "sampleContactIds": ids, **created}
    (scratch / "dataset.json").write_text(json.dumps(meta))
    shutil.rmtree(data_dir, ignore_errors=True)
    scratch.rename(data_dir)
    return meta


def ensure(data_dir: pathlib.Path, count: int, rebuild: bool = False) -> dict:
    """The data set in `data_dir`, built first when missing, stale or `rebuild` is asked for."""
    marker = data_dir / "dataset.json"
    print_ = fingerprint()
    why = "asked to rebuild" if rebuild else "none cached"
    if not rebuild and marker.exists():
        meta = json.loads(marker.read_text())
        if meta.get("fingerprint") == print_ and meta.get("contacts") == count:
            return meta
        why = "the schema or the stored values changed since it was built"
    print(f"building a data set of {count:,} contacts in {data_dir} ({why}) ...", flush=True)
    started = time.monotonic()
    meta = build(data_dir, count, print_)
    print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
    return meta
