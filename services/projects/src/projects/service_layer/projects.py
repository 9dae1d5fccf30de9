"""Project use cases: one unit of work (transaction) each, committed explicitly."""
import dataclasses
from typing import Callable, Protocol, TypeVar

import nh3

from portal.projects.v1 import projects_pb2
from portal_common.auth import Principal
from portal_common.clock import now_ms
from portal_common.db import Database
from portal_common.errors import InvalidArgument, NotFound
from portal_common.ids import new_id
from portal_common.validation import check_choice
from projects.adapters import views
from projects.adapters.repository import ProjectsRepository
from projects.adapters.views import ProjectFilter
from projects.domain import model
from projects.domain.model import CANCELLED, PRIORITIES, STATUSES, SUBTYPES, Project

T = TypeVar("T")


class CrmOrganizations(Protocol):
    def has_organization(self, crm_organization_id: str, credential: str) -> bool: ...


def _sanitized_html(value, field: str) -> str | None:
    """Rich text with nh3's (ammonia's) safe defaults: no scripts, styles, event handlers or
    javascript: URLs; links get rel="noopener noreferrer"."""
    html = model.clean_rich_text(value, field)
    return (nh3.clean(html).strip() or None) if html else None


# The fields a request may set, named as in the REST API (customProperties.* nested there), with
# the attribute of Project each sets and the check of its value.
_SETTABLE: dict[str, tuple[str, Callable]] = {
    "name": ("name", model.clean_name),
    "description": ("description", model.clean_description),
    "subtype": ("subtype", model.clean_subtype),
    "status": ("status", model.clean_status),
    "customProperties.startDate": ("start_date", model.clean_date),
    "customProperties.targetEndDate": ("target_end_date", model.clean_date),
    "customProperties.budget": ("budget", model.clean_budget),
    "customProperties.priority": ("priority", model.clean_priority),
    "customProperties.progress": ("progress", model.clean_progress),
    "customProperties.clientOrgId": ("client_org_id", model.clean_reference),
    "customProperties.detailedDescription": ("detailed_description", _sanitized_html),
}
# Fields of a project that the service sets itself.
_ASSIGNED = {"_id", "organizationId", "type", "createdBy", "createdAt", "updatedAt", "customProperties.projectCode"}


def _clean_fields(given: dict) -> dict:
    """Project attributes and their checked values, from a JSON object of fields to set."""
    flat = {}
    for key, value in given.items():
        if key == "customProperties":
            if not isinstance(value, dict):
                raise InvalidArgument("customProperties must be an object", field=key)
            flat.update({f"{key}.{name}": inner for name, inner in value.items()})
        else:
            flat[key] = value
    cleaned = {}
    for field, value in flat.items():
        if field in _ASSIGNED:
            raise InvalidArgument(f"{field} is set by the service and cannot be given", field=field)
        if field not in _SETTABLE:
            raise InvalidArgument(f"unknown field {field!r}; settable fields are {', '.join(_SETTABLE)}", field=field)
        attribute, clean = _SETTABLE[field]
        cleaned[attribute] = clean(value, field)
    return cleaned


class ProjectsService:
    def __init__(self, database: Database, crm: CrmOrganizations):
        self._database = database
        self._crm = crm

    # Writes

    def create_project(self, principal: Principal, credential: str, given: dict) -> Project:
        """A draft project from `given` (the JSON fields of the request) with the next code of the
        year. `credential` is the caller's, to ask the CRM about the client on their behalf."""
        fields = _clean_fields(given)
        for required in ("name", "subtype"):
            if required not in fields:
                raise InvalidArgument(f"{required} is required", field=required)
        self._check_client(fields, credential)

        def create(repo: ProjectsRepository) -> Project:
            now = now_ms()
            year = model.code_year(now)
            project = Project(id=new_id("prj"), organization_id=principal.organization_id,
                              project_code=model.project_code(year, repo.next_project_number(principal.organization_id,
                                                                                            year)),
                              created_by=principal.credential_id, created_at=now, updated_at=now, **fields)
            project.check_schedule()
            repo.add_project(project)
            return project
        return self._write(create)

    def update_project(self, organization_id: str, credential: str, project_id: str, changes: dict) -> Project:
        fields = _clean_fields(changes)
        status = fields.pop("status", None)
        self._check_client(fields, credential)

        def update(repo: ProjectsRepository) -> Project:
            project = self._project(repo, organization_id, project_id)
            counted_as = project.count_key
            for attribute, value in fields.items():
                setattr(project, attribute, value)
            if status:
                project.change_status(status)
            project.check_schedule()
            project.updated_at = now_ms()
            repo.save_project(project, counted_as)
            return project
        return self._write(update)

    def archive_project(self, organization_id: str, project_id: str) -> Project:
        """Cancels the project; a cancelled project stays as it is."""
        def archive(repo: ProjectsRepository) -> Project:
            project = self._project(repo, organization_id, project_id)
            if project.status != CANCELLED:
                counted_as = project.count_key
                project.change_status(CANCELLED)
                project.updated_at = now_ms()
                repo.save_project(project, counted_as)
            return project
        return self._write(archive)

    def delete_project(self, organization_id: str, project_id: str) -> None:
        def delete(repo: ProjectsRepository) -> None:
            project = self._project(repo, organization_id, project_id)
            project.check_deletable()
            repo.delete_project(project)
        self._write(delete)

    # Reads: a portal user sees only the projects whose client is their own CRM organization.

    def get_project(self, principal: Principal, project_id: str) -> projects_pb2.Project:
        view = None
        client = principal.crm_organization_id if principal.is_portal_user else None
        if client != "":  # "": a portal user linked to no CRM organization, who has no projects
            with self._database.hot() as connection:
                view = views.project_view(connection, principal.organization_id, project_id, client)
        if view is None:
            raise NotFound(f"project {project_id} not found")
        return view

    def list_projects(self, principal: Principal, where: ProjectFilter, limit: int, offset: int
                      ) -> projects_pb2.ListProjectsResponse:
        for value, allowed, field in ((where.status, STATUSES, "status"), (where.subtype, SUBTYPES, "subtype"),
                                      (where.priority, PRIORITIES, "priority")):
            if value:
                check_choice(value, allowed, field)
        if principal.is_portal_user:
            own = principal.crm_organization_id
            if not own or where.client_org_id not in ("", own):
                return projects_pb2.ListProjectsResponse(total=0, limit=limit, offset=offset)
            where = dataclasses.replace(where, client_org_id=own)
        with self._database.hot() as connection:
            return views.project_page(connection, principal.organization_id, where, limit, offset)

    # Helpers

    def _check_client(self, fields: dict, credential: str) -> None:
        """A client must be a CRM organization of the caller's; asked before the transaction, so
        that no write lock is held while the CRM answers."""
        client = fields.get("client_org_id")
        if client and not self._crm.has_organization(client, credential):
            field = "customProperties.clientOrgId"
            raise InvalidArgument(f"{field} {client!r} is not one of your CRM organizations", field=field)

    @staticmethod
    def _project(repo: ProjectsRepository, organization_id: str, project_id: str) -> Project:
        project = repo.project(organization_id, project_id)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        return project

    def _write(self, work: Callable[[ProjectsRepository], T]) -> T:
        return self._database.run_write(lambda connection: work(ProjectsRepository(connection, locking=True)))
