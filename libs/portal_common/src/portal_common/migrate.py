"""`python -m portal_common.migrate auth=services/auth/migrations crm=services/crm/migrations ...`: brings
each named service's database (`<SERVICE>_DATABASE_URL`) to the newest revision of the migrations in the
directory beside its name, and serves nothing. (The directories are given, not looked up: shared code
imports no service.)

The services migrate when they start too (db.migrate in each server's build, a no-op on a database
already at the newest revision); Kubernetes runs this as a Job before a rollout (deploy/k8s/base/migrate.yaml),
so that a failing migration stops a release before any new pod starts.
"""

import pathlib
import sys

from portal_common import db, settings


def migrate(service: str, migrations: pathlib.Path) -> None:
    if service not in settings.DEFAULT_PORTS:
        raise SystemExit(f"no such service: {service!r} (one of {', '.join(settings.DEFAULT_PORTS)})")
    if not (migrations / "env.py").is_file():
        raise SystemExit(f"{migrations}: not a directory of Alembic migrations")
    engine = db.create_engine(settings.database_url(service))
    try:
        db.migrate(engine, migrations)
    finally:
        engine.dispose()


def main(arguments: list[str]) -> None:
    if not arguments or not all("=" in argument for argument in arguments):
        raise SystemExit("usage: python -m portal_common.migrate SERVICE=MIGRATIONS_DIRECTORY...")
    for argument in arguments:
        service, _, directory = argument.partition("=")
        migrate(service, pathlib.Path(directory))
        print(f"{service}: migrated", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
