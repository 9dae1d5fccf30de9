"""Engines, units of work and migrations, the same way in every service."""

import contextlib
import dataclasses
import logging
import pathlib
import re
import threading
import time
import weakref
from typing import Callable, Iterator, Sequence

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.sql.compiler import SQLCompiler

from portal_common import metrics, tracing
from portal_common.domain_errors import Unavailable
from portal_common.settings import env_int

WRITE = "portal_write"
_UPSERT: dict[str, Callable[[sa.Table], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}
_LIKE_SPECIAL = re.compile(r"([\\%_])")
log = logging.getLogger(__name__)


def create_engine(url: str) -> sa.Engine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE for writes.

    Its errors never show the statement's parameters (emails, credential hashes, bodies), which
    would land in the logs and the error reports with the exception.

    Pysqlite's own transaction handling starts transactions lazily, so two writers that both read
    first deadlock on the lock upgrade and one fails at once; taking the write lock when a write
    unit of work begins makes writers queue behind each other instead.
    """
    if not url.startswith("sqlite"):
        # PORTAL_DB_POOL_SIZE: connections an engine keeps open between uses (more open for bursts,
        # then close). Each process of each service holds its own, against the server's
        # max_connections: the test stacks, many at once on one server, keep few.
        engine = sa.create_engine(
            url,
            pool_size=env_int("PORTAL_DB_POOL_SIZE", 16),
            max_overflow=8,
            pool_pre_ping=True,
            hide_parameters=True,
        )
        metrics.instrument_engine(engine)
        _watch_connections(engine)
        return engine
    path = sa.make_url(url).database
    pool = {}
    if path and path != ":memory:":
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        # As many pooled connections as server threads: opening one costs a file open and pragmas.
        # (An in-memory database lives in a single connection, whose pool takes no sizes.)
        pool = {"pool_size": 16, "max_overflow": 8}
    engine = sa.create_engine(
        url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True, **pool
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Straight to the driver: this runs for every unit of work, and the full execution path
        # would cost more than the query it protects.
        write = connection.get_execution_options().get(WRITE, False)
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    metrics.instrument_engine(engine)
    return engine


class _ConnectionWatch:
    """Whether an engine's database server answers, for the logs and the metrics: every lost
    connection, or one that could not be opened, is counted (portal_db_connection_errors_total);
    the first of an outage is logged as a WARNING, the first connection that opens after it as INFO."""

    def __init__(self, engine: sa.Engine):
        self._where = f"{engine.url.host}:{engine.url.port}/{engine.url.database}"  # never the password
        self._lock = threading.Lock()
        self._lost = False

    def failed(self, error: BaseException) -> Unavailable:
        """Records a lost connection; returns the error to answer the request with."""
        metrics.database_connection_error()
        with self._lock:
            first, self._lost = not self._lost, True
        if first:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            log.warning("lost the connection to the database %s: %s", self._where, reason)
        return Unavailable("the database is unavailable; try again shortly", retry_after_seconds=1)

    def connected(self) -> None:
        with self._lock:
            recovered, self._lost = self._lost, False
        if recovered:
            log.info("connected to the database %s again", self._where)


_watches: "weakref.WeakKeyDictionary[sa.Engine, _ConnectionWatch]" = weakref.WeakKeyDictionary()


def _watch_connections(engine: sa.Engine) -> None:
    """A PostgreSQL server that restarts closes every connection. pool_pre_ping replaces a dead
    pooled connection before it is used; a request that meets the outage itself (its connection
    dropped, or none can be opened) is answered UNAVAILABLE (503, retry) rather than INTERNAL, and
    the watch logs and counts it. The service recovers on its own once the server is back."""
    watch = _watches[engine] = _ConnectionWatch(engine)
    operational = engine.dialect.loaded_dbapi.OperationalError

    @event.listens_for(engine, "handle_error")
    def _failed(context):
        opening = context.connection is None and isinstance(context.original_exception, operational)
        if not (context.is_disconnect or opening):
            return None
        unavailable = watch.failed(context.original_exception)
        # A failed pre-ping must stay SQLAlchemy's: the pool then opens a new connection.
        return None if context.is_pre_ping else unavailable

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection, _record):
        watch.connected()


class Database:
    """Connections for one unit of work each: `with database.write() as c: ...; c.commit()`.

    The services use SQLAlchemy Core only, so a Connection is the whole unit of work; an ORM
    Session would add its bookkeeping to every request for nothing.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE: True})

    def read(self) -> sa.Connection:
        return self._engine.connect()

    @contextlib.contextmanager
    def hot(self) -> Iterator["HotConnection"]:
        """A pooled driver connection for HotQuery reads, without SQLAlchemy's Connection around
        it: opening and closing one costs more than the queries of a typical read. Each statement
        sees the data committed when it runs."""
        # Raw connections bypass the engine's error events: a lost one is noted here.
        watch, dbapi = _watches.get(self._engine.engine), self._engine.dialect.loaded_dbapi
        try:
            pooled = self._engine.raw_connection()
        except dbapi.OperationalError as error:
            if watch is None:
                raise
            raise watch.failed(error) from error
        try:
            driver_connection = pooled.driver_connection
            if driver_connection is None:  # never, for a connection just checked out
                raise RuntimeError("the pooled connection is closed")
            yield HotConnection(driver_connection, self._engine.dialect)
        except dbapi.Error as error:
            if watch is None or not self._engine.dialect.is_disconnect(error, driver_connection, None):
                raise
            pooled.invalidate(error)
            raise watch.failed(error) from error
        finally:
            pooled.close()

    def write(self) -> sa.Connection:
        return self._write_engine.connect()


# Any constant: the key of the PostgreSQL advisory lock that migrations take.
_MIGRATION_LOCK = 0x706F7274616C


def migrate(engine: sa.Engine, script_location: pathlib.Path) -> None:
    """Brings the database up to the newest Alembic revision of the service.

    Processes of one service that start at once take turns: the migration runs in one transaction
    that first takes a lock (an advisory lock on PostgreSQL, the write lock on SQLite), so the
    second process waits, then finds the database at the newest revision and changes nothing.
    """
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with engine.execution_options(**{WRITE: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def run_alembic_env() -> None:
    """The body of every service's migrations/env.py: migrate over the connection `migrate` gives."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


class Repository:
    """Base of the services' repositories, one per unit of work.

    `locking=True` (in write units of work) locks the rows it reads until the transaction ends,
    so that concurrent read-modify-writes queue instead of losing each other's changes. (SQLite
    needs no row locks: a write transaction there holds the database's write lock.)
    """

    def __init__(self, connection: sa.Connection, locking: bool = False):
        self._connection = connection
        self._locking = locking

    def _reading(self, query: sa.Select) -> sa.Select:
        """`query` as this unit of work must run it: locking the rows it reads if it writes."""
        return query.with_for_update() if self._locking else query


def increment(connection: sa.Connection, table: sa.Table, key: dict, column: str, by: int) -> int:
    """Adds `by` to `column` of the row of `table` whose primary key is `key` (creating the row with
    `by` if there is none) in one statement; returns the new value. The row stays locked until the
    transaction ends, so concurrent increments queue and each sees its own result."""
    insert = _UPSERT[connection.dialect.name](table).values(**key, **{column: by})
    statement = insert.on_conflict_do_update(index_elements=list(key), set_={column: table.c[column] + by})
    return connection.execute(statement.returning(table.c[column])).scalar_one()


def count_up_to(connection: sa.Connection, query: sa.Select, limit: int) -> int:
    """How many rows `query` finds, counting at most `limit`: a read of bounded cost (a queue's
    depth for the metrics), best served by an index that covers `query`."""
    return connection.execute(sa.select(sa.func.count()).select_from(query.limit(limit).subquery())).scalar_one()


def like_pattern(term: str) -> str:
    """A LIKE pattern (escape character backslash) matching `term` anywhere, lowercased."""
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", term.strip().lower()) + "%"


@dataclasses.dataclass(frozen=True)
class HotConnection:
    driver_connection: DBAPIConnection
    dialect: sa.Dialect


class HotQuery:
    """A Core statement compiled once per dialect and run straight on the driver's cursor.

    For the few reads on every request's path (a record by id, a page of a list): SQLAlchemy's
    execution machinery costs about 100 µs a call, several times the query itself. Values are
    bound by the names of the statement's bindparams; rows come back as the driver's tuples.
    """

    def __init__(self, statement: sa.Select):
        self._statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict]] = {}

    def _for(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict]:
        if dialect.name not in self._compiled:
            compiled = self._statement.compile(dialect=dialect)
            if not isinstance(compiled, SQLCompiler):  # a SELECT always compiles with one
                raise TypeError(f"{dialect.name} compiled {self._statement} with {type(compiled).__name__}")
            positions = compiled.positiontup  # set when the dialect's parameters are positional
            order = tuple(positions) if compiled.positional and positions is not None else None
            self._compiled[dialect.name] = (compiled.string, order, compiled.params)  # params: literals
        return self._compiled[dialect.name]

    def rows(self, connection: HotConnection, params: dict) -> Sequence[tuple]:
        sql, order, literals = self._for(connection.dialect)
        values = {**literals, **params}
        cursor = connection.driver_connection.cursor()
        started = time.perf_counter()  # timed here: these statements bypass the engine's events
        try:
            with tracing.statement_span(connection.dialect.name, sql):
                cursor.execute(sql, tuple(values[name] for name in order) if order is not None else values)
                return cursor.fetchall()
        finally:
            cursor.close()
            metrics.observe_query(time.perf_counter() - started)
