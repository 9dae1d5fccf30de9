"""Migrations of one database started by several processes at once all succeed."""

import subprocess
import sys
import textwrap

import sqlalchemy as sa

from portal_common import db

ENV = "from portal_common.db import run_alembic_env\nrun_alembic_env()\n"
REVISION = textwrap.dedent("""
    from alembic import op
    import sqlalchemy as sa
    import time

    revision = "0001"
    down_revision = None

    def upgrade():
        op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
        time.sleep(0.5)  # long enough for the other processes to arrive while this one migrates
""")
MIGRATE = "import pathlib, sys\nfrom portal_common import db\ndb.migrate(db.create_engine(sys.argv[1]), pathlib.Path(sys.argv[2]))\n"


def test_processes_that_migrate_at_once_take_turns(databases, tmp_path):
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text(ENV)
    (migrations / "versions" / "0001_things.py").write_text(REVISION)
    url = databases.new_url("migrate")
    starts = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, url, str(migrations)], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    failures = [p.stderr.read().decode() for p in starts if p.wait() != 0]
    assert failures == []
    engine = db.create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        assert connection.execute(sa.text("SELECT count(*) FROM things")).scalar() == 0
    engine.dispose()
