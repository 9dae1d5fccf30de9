"""The unit of work: one transaction and the repositories that work in it.

A use case takes a unit of work and writes through it explicitly:

    with uow:
        project = uow.projects.get(organization_id, project_id, for_update=True)
        project.apply(changes, now=now)
        uow.commit()

Nothing is written unless `commit()` is called; leaving the block rolls back whatever was not
committed. Each service subclasses SqlUnitOfWork to open its repositories on the connection, and
its unit tests use a fake with in-memory repositories and the same two methods.
"""

import contextlib
import contextvars
from typing import Callable, Iterator, Protocol, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from portal_common.db import Database

T = TypeVar("T")

# What must be written in the same transaction as any change the current call commits: the
# idempotency key's claim is marked used so (portal_common.idempotency), so that a crash between
# the commit and storing the answer cannot let a retry make the change again.
_commit_hook: contextvars.ContextVar[Callable[[sa.Connection], None] | None] = contextvars.ContextVar(
    "commit_hook", default=None
)


@contextlib.contextmanager
def committing_with(hook: Callable[[sa.Connection], None]) -> Iterator[None]:
    """Within the block, every writing SqlUnitOfWork runs `hook` on its connection just before it
    commits (in this thread or context); an error from `hook` refuses the commit."""
    reset = _commit_hook.set(hook)
    try:
        yield
    finally:
        _commit_hook.reset(reset)


class UnitOfWork(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(self, *exc) -> None: ...

    def commit(self) -> None: ...


class SqlUnitOfWork:
    """A transaction on the service's database. A writing one takes SQLite's write lock when it
    begins, so that writers queue rather than deadlock (portal_common.db), and its repositories lock
    the rows they read; a `read_only` one does neither."""

    def __init__(self, database: Database, read_only: bool = False):
        self._database = database
        self.read_only = read_only
        self.connection: sa.Connection | None = None

    def open(self, connection: sa.Connection) -> None:
        """Sets up the repositories of this unit of work on `connection`."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.connection = self._database.read() if self.read_only else self._database.write()
        self.connection.begin()
        self.open(self.connection)
        return self

    def commit(self) -> None:
        connection = self._open_connection()
        hook = _commit_hook.get()
        if hook is not None and not self.read_only:
            hook(connection)
        connection.commit()

    def __exit__(self, *exc) -> None:
        connection = self._open_connection()
        try:
            connection.rollback()  # what was not committed
        finally:
            connection.close()
            self.connection = None

    def _open_connection(self) -> sa.Connection:
        if self.connection is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self.connection


# PostgreSQL's answers to writers that raced: a deadlock between them, or a serialization failure.
_RACE_SQLSTATES = {"40P01", "40001"}
RACE_ATTEMPTS = 3


def _lost_a_race(error: DBAPIError) -> bool:
    return isinstance(error, IntegrityError) or getattr(error.orig, "sqlstate", None) in _RACE_SQLSTATES


def retry_race(work: Callable[[], T]) -> T:
    """Runs `work` (a whole unit of work) again, up to RACE_ATTEMPTS times in all, when it lost a race
    to a concurrent writer: a unique key the other one took first (the next run sees its row), or a
    deadlock PostgreSQL broke between them. Only for writes where such a race is expected (upserts
    by a natural key); any other database error is a bug and surfaces as one."""
    for _ in range(RACE_ATTEMPTS - 1):
        try:
            return work()
        except DBAPIError as error:
            if not _lost_a_race(error):
                raise
    return work()
