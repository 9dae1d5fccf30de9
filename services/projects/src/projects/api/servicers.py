from google.protobuf import empty_pb2

from portal.projects.v1 import projects_pb2_grpc
from portal_common.auth import current_principal
from portal_common.domain_errors import InvalidArgument
from portal_common.errors import http_status_metadata
from portal_common.json_body import body_dict
from portal_common.pagination import page_bounds
from portal_common.peers import caller_credential
from projects.adapters.views import ProjectFilter, project_message
from projects.service_layer.projects import ProjectsService


def _organization_id() -> str:
    return current_principal().organization_id


class ProjectsServicer(projects_pb2_grpc.ProjectsServiceServicer):
    def __init__(self, projects: ProjectsService):
        self._projects = projects

    def ListProjects(self, request, context):
        limit, offset = page_bounds(request)
        where = ProjectFilter(status=request.status, subtype=request.subtype, priority=request.priority,
                              client_org_id=request.client_org_id, search=request.search)
        return self._projects.list_projects(current_principal(), where, limit, offset)

    def GetProject(self, request, context):
        return self._projects.get_project(current_principal(), request.project_id)

    def CreateProject(self, request, context):
        project = self._projects.create_project(current_principal(), caller_credential(context),
                                                body_dict(request.project))
        context.send_initial_metadata((http_status_metadata(201),))
        return project_message(project)

    def UpdateProject(self, request, context):
        return project_message(self._projects.update_project(
            _organization_id(), caller_credential(context), request.project_id, body_dict(request.changes)))

    def DeleteProject(self, request, context):
        self._projects.delete_project(_organization_id(), request.project_id)
        return empty_pb2.Empty()

    def ArchiveProject(self, request, context):
        given = next(iter(body_dict(request.body)), None)
        if given is not None:
            raise InvalidArgument(f"unknown field {given}; archive takes no fields", field=given)
        return project_message(self._projects.archive_project(_organization_id(), request.project_id))
