"""`python -m portal_common.migrate auth crm ...`: brings each named service's database
(`<SERVICE>_DATABASE_URL`) to its newest migration, and serves nothing.

The services migrate when they start too (db.migrate in each server's build, a no-op on a database
already at the newest revision); Kubernetes runs this as a Job before a rollout (deploy/k8s/base/migrate.yaml),
so that new pods start on a migrated database and a failed migration stops the rollout early.
"""

import importlib
import sys

from portal_common import db, settings


def migrate(service: str) -> None:
    """Migrates `service`'s database with the migrations its package names (`<service>.config.MIGRATIONS`)."""
    if service not in settings.DEFAULT_PORTS:
        raise SystemExit(f"no such service: {service!r} (one of {', '.join(settings.DEFAULT_PORTS)})")
    migrations = importlib.import_module(f"{service}.config").MIGRATIONS
    engine = db.create_engine(settings.database_url(service))
    try:
        db.migrate(engine, migrations)
    finally:
        engine.dispose()


def main(services: list[str]) -> None:
    if not services:
        raise SystemExit(f"usage: python -m portal_common.migrate SERVICE... ({' '.join(settings.DEFAULT_PORTS)})")
    for service in services:
        migrate(service)
        print(f"{service}: migrated", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
