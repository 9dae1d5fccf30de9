"""The projects service's unit of work: one write transaction, the projects repository in it, and
the events it records (portal_common.outbox)."""

import sqlalchemy as sa

from portal_common.db import Database
from portal_common.outbox import Outbox, OutboxUnitOfWork
from projects.adapters.repository import ProjectsRepository, ViewOf


class ProjectsUnitOfWork(OutboxUnitOfWork):
    projects: ProjectsRepository

    def __init__(self, database: Database, outbox: Outbox, view_of: ViewOf):
        super().__init__(database, outbox)
        self._view_of = view_of

    def open(self, connection: sa.Connection) -> None:
        self.projects = ProjectsRepository(connection, self._view_of)
