"""The projects service's unit of work: one write transaction and the projects repository in it."""

import sqlalchemy as sa

from portal_common.db import Database
from portal_common.uow import SqlUnitOfWork
from projects.adapters.repository import ProjectsRepository, ViewOf


class ProjectsUnitOfWork(SqlUnitOfWork):
    projects: ProjectsRepository

    def __init__(self, database: Database, view_of: ViewOf):
        super().__init__(database)
        self._view_of = view_of

    def open(self, connection: sa.Connection) -> None:
        self.projects = ProjectsRepository(connection, self._view_of)
