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
from typing import Callable, Protocol, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal_common.db import Database

T = TypeVar("T")


class UnitOfWork(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(self, *exc) -> None: ...

    def commit(self) -> None: ...


class SqlUnitOfWork:
    """A write transaction on the service's database (on SQLite, it takes the write lock when it
    begins, so that writers queue rather than deadlock: portal_common.db)."""

    def __init__(self, database: Database):
        self._database = database
        self.connection: sa.Connection | None = None

    def open(self, connection: sa.Connection) -> None:
        """Sets up the repositories of this unit of work on `connection`."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.connection = self._database.write()
        self.connection.begin()
        self.open(self.connection)
        return self

    def commit(self) -> None:
        self.connection.commit()

    def __exit__(self, *exc) -> None:
        try:
            self.connection.rollback()  # what was not committed
        finally:
            self.connection.close()
            self.connection = None


def retry_race(work: Callable[[], T]) -> T:
    """Runs `work` (a whole unit of work) once more if a concurrent writer won a race on a unique
    key: the second run sees the winner's row. Only for writes where such a race is expected
    (upserts by a natural key); any other IntegrityError is a bug and must surface as one."""
    try:
        return work()
    except IntegrityError:
        return work()
