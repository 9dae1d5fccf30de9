from google.protobuf import empty_pb2

from portal.projects.v1 import projects_pb2_grpc
from portal_common.auth import current_principal
from portal_common.errors import http_status_metadata
from portal_common.json_body import body_dict, no_fields
from portal_common.pagination import page_bounds
from portal_common.peers import caller_credential
from projects.api import mapping
from projects.queries import ProjectQueries
from projects.service_layer.projects import ProjectsService


def _organization_id() -> str:
    return current_principal().organization_id


class ProjectsServicer(projects_pb2_grpc.ProjectsServiceServicer):
    def __init__(self, projects: ProjectsService, queries: ProjectQueries):
        self._projects = projects
        self._queries = queries

    def ListProjects(self, request, context):
        limit, offset = page_bounds(request)
        page = self._queries.project_page(current_principal(), mapping.project_filter(request), limit, offset)
        return mapping.project_page_message(page, limit, offset)

    def GetProject(self, request, context):
        return mapping.project_from_view(self._queries.project_view(current_principal(), request.project_id))

    def CreateProject(self, request, context):
        changes, given_at = mapping.project_changes(body_dict(request.project))
        with mapping.client_paths(given_at):
            project = self._projects.create(current_principal(), caller_credential(context), changes)
        context.send_initial_metadata((http_status_metadata(201),))
        return mapping.project_message(project)

    def UpdateProject(self, request, context):
        changes, given_at = mapping.project_changes(body_dict(request.changes))
        with mapping.client_paths(given_at):
            project = self._projects.update(_organization_id(), caller_credential(context), request.project_id, changes)
        return mapping.project_message(project)

    def DeleteProject(self, request, context):
        self._projects.delete(_organization_id(), request.project_id)
        return empty_pb2.Empty()

    def ArchiveProject(self, request, context):
        no_fields(request.body, "archive")
        return mapping.project_message(self._projects.archive(_organization_id(), request.project_id))
