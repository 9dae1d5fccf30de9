"""`python -m portal_stack.backup create DIR` / `restore DIR`: every service's database and the data
directory's keys, while the stack runs (docs/operations.md, "Backup and restore").

The databases are the ones the services use, from the same environment (`<SERVICE>_DATABASE_URL`,
else SQLite files in PORTAL_DATA_DIR):
- SQLite: the online backup API (sqlite3's Connection.backup), a consistent copy of a database in
  use, its WAL included, taken without stopping writers for long;
- PostgreSQL: `pg_dump --format=custom`, one consistent snapshot per database; restored with
  `pg_restore` into an empty database.

Beside the databases, the data directory holds what they cannot be read without: `secrets-key`
(the key of the sealed signing secrets, unless PORTAL_SECRETS_KEY is set), `internal-token` (the
services' shared credential, unless PORTAL_INTERNAL_TOKEN is set) and `mail/` (the invoice emails
written as files when no SMTP server is configured). Each service is backed up on its own, so the
copies are consistent per service, not across services (they refer to each other by id only).
"""

import argparse
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import time

import sqlalchemy as sa

from portal_common import settings
from portal_common.sealed_secrets import KEY_FILE
from portal_stack.stack import SERVICES

MANIFEST = "manifest.json"
DATA_FILES = (KEY_FILE, "internal-token")
DATA_DIRS = ("mail",)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump and pg_restore, and the environment that carries the
    password (PGPASSWORD), so that it never shows in the process list."""
    parsed = sa.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _sqlite_path(url: str) -> pathlib.Path:
    database = sa.make_url(url).database
    if not database or database == ":memory:":
        raise SystemExit(f"cannot back up {url}: not a database file")
    return pathlib.Path(database)


def _copy_sqlite(source: pathlib.Path, target: pathlib.Path) -> None:
    reading, writing = sqlite3.connect(f"file:{source}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        reading.backup(writing)
    finally:
        reading.close()
        writing.close()


def create(target: pathlib.Path) -> dict:
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"{target} is not empty: back up into a new directory")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    manifest: dict = {"createdAt": int(time.time() * 1000), "databases": {}, "dataFiles": []}
    for service in SERVICES:
        url = settings.database_url(service)
        if url.startswith("sqlite"):
            _copy_sqlite(_sqlite_path(url), target / f"{service}.db")
            manifest["databases"][service] = {"format": "sqlite", "file": f"{service}.db"}
        else:
            connection, env = _libpq(url)
            dump = target / f"{service}.dump"
            subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), connection], env=env, check=True)
            manifest["databases"][service] = {"format": "pg_dump", "file": dump.name}
    data_dir = settings.data_dir()
    for name in DATA_FILES:
        if (data_dir / name).is_file():
            shutil.copy2(data_dir / name, target / name)
            manifest["dataFiles"].append(name)
    for name in DATA_DIRS:
        if (data_dir / name).is_dir():
            shutil.copytree(data_dir / name, target / name)
            manifest["dataFiles"].append(name)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def restore(source: pathlib.Path) -> dict:
    """Into fresh databases (empty PostgreSQL databases, SQLite files not there yet) and a data
    directory without the backed-up files, before the stack starts."""
    if not (source / MANIFEST).is_file():
        raise SystemExit(f"{source} is not a backup: it has no {MANIFEST}")
    manifest = json.loads((source / MANIFEST).read_text())
    data_dir = settings.data_dir()
    for service, saved in manifest["databases"].items():
        url = settings.database_url(service)
        if saved["format"] == "sqlite":
            if not url.startswith("sqlite"):
                raise SystemExit(f"{service}: the backup is of SQLite, {service.upper()}_DATABASE_URL is not")
            path = _sqlite_path(url)
            if path.exists():
                raise SystemExit(f"{path} exists: restore into a new data directory or database file")
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _copy_sqlite(source / saved["file"], path)
        else:
            if url.startswith("sqlite"):
                raise SystemExit(f"{service}: the backup is of PostgreSQL, {service.upper()}_DATABASE_URL is not")
            connection, env = _libpq(url)
            subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", connection, str(source / saved["file"])],
                env=env,
                check=True,
            )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in manifest["dataFiles"]:
        if (data_dir / name).exists():
            raise SystemExit(f"{data_dir / name} exists: restore into a new data directory")
        if (source / name).is_dir():
            shutil.copytree(source / name, data_dir / name)
        else:
            shutil.copy2(source / name, data_dir / name)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal_stack.backup", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="back up every service's database and the data directory's keys").add_argument(
        "directory", type=pathlib.Path
    )
    commands.add_parser("restore", help="restore a backup into fresh databases and data directory").add_argument(
        "directory", type=pathlib.Path
    )
    args = parser.parse_args(argv)
    os.umask(0o077)  # a backup holds every secret the stack has: for its owner only
    manifest = (create if args.command == "create" else restore)(args.directory)
    print(json.dumps({"command": args.command, "directory": str(args.directory), **manifest}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
