import pytest

from portal_common import db
from projects.api import mapping
from projects.queries import ProjectQueries
from projects.server import new_outbox
from projects.service_layer.projects import ProjectsService
from projects.service_layer.unit_of_work import ProjectsUnitOfWork


class Service:
    """The use cases and queries on a real database, called as the servicer calls them: JSON
    bodies in (errors name the client's JSON paths), domain projects out of writes, API messages
    out of reads."""

    def __init__(self, engine, crm):
        database = db.Database(engine)
        self._projects = ProjectsService(lambda: ProjectsUnitOfWork(database, new_outbox(), mapping.project_view), crm)
        self._queries = ProjectQueries(database)

    def create_project(self, principal, credential, body):
        changes, given_at = mapping.project_changes(body)
        with mapping.client_paths(given_at):
            return self._projects.create(principal, credential, changes)

    def update_project(self, organization_id, credential, project_id, body):
        changes, given_at = mapping.project_changes(body)
        with mapping.client_paths(given_at):
            return self._projects.update(organization_id, credential, project_id, changes)

    def archive_project(self, organization_id, project_id):
        return self._projects.archive(organization_id, project_id)

    def delete_project(self, organization_id, project_id):
        self._projects.delete(organization_id, project_id)

    def get_project(self, principal, project_id):
        return mapping.project_from_view(self._queries.project_view(principal, project_id))

    def list_projects(self, principal, where, limit, offset):
        return mapping.project_page_message(self._queries.project_page(principal, where, limit, offset), limit, offset)


@pytest.fixture
def service_on():
    """Service(engine, crm)."""
    return Service
