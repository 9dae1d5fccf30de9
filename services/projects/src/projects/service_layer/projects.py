"""Project use cases: one unit of work (transaction) each, committed explicitly."""
import dataclasses
from typing import Callable, Protocol, TypeVar

import nh3

from portal.projects.v1 import projects_pb2
from portal_common.auth import Principal
from portal_common.clock import now_ms
from portal_common.db import Database
from portal_common.domain_errors import InvalidArgument, NotFound
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


# The fields of a POST or PATCH body, named as in the REST API, with the attribute of Project each
# sets and the check of its value. `type` is checked and not stored: it is always "project".
_FIELDS: dict[str, tuple[str | None, Callable]] = {
    "type": (None, model.clean_type),
    "name": ("name", model.clean_name),
    "description": ("description", model.clean_description),
    "subtype": ("subtype", model.clean_subtype),
    "status": ("status", model.clean_status),
}
# The known properties, taken at the top level (the seed's createProject and updateProject inputs)
# or inside customProperties (the seed's stored Project Data Structure), checked alike.
_PROPERTIES: dict[str, tuple[str, Callable]] = {
    "startDate": ("start_date", model.clean_date),
    "targetEndDate": ("target_end_date", model.clean_date),
    "budget": ("budget", model.clean_budget),
    "priority": ("priority", model.clean_priority),
    "progress": ("progress", model.clean_progress),
    "clientOrgId": ("client_org_id", model.clean_reference),
    "detailedDescription": ("detailed_description", _sanitized_html),
}
# Fields of a project that the service sets itself (projectCode belongs in customProperties, but
# is refused anywhere).
_ASSIGNED = {"_id", "organizationId", "createdBy", "createdAt", "updatedAt", "projectCode"}
_CUSTOM_PROPERTIES = "customProperties"


@dataclasses.dataclass
class ProjectChanges:
    """What a POST or PATCH body sets, checked: Project attributes and their values, the JSON path
    each was given at (errors name it), and the free-form keys of customProperties (None removes
    one)."""
    values: dict[str, object] = dataclasses.field(default_factory=dict)
    paths: dict[str, str] = dataclasses.field(default_factory=dict)
    free_properties: dict[str, object] = dataclasses.field(default_factory=dict)

    def set(self, attribute: str, value, path: str) -> None:
        if attribute in self.values and self.values[attribute] != value:
            first = self.paths[attribute]
            raise InvalidArgument(f"{first} is given twice with different values, as {first} and as {path}; give "
                                  "it once, or the same value in both places", field=first)
        self.values[attribute] = value
        self.paths.setdefault(attribute, path)

    def schedule_field(self) -> str:
        """The date an inconsistent schedule is blamed on: the one this request gave."""
        return self.paths.get("target_end_date") or self.paths.get("start_date") or "customProperties.targetEndDate"


def project_changes(body: dict) -> ProjectChanges:
    """The checked changes of a POST or PATCH body (a JSON object); every key is known, or a 400
    names it as the client wrote it."""
    changes = ProjectChanges()
    # Top-level keys first, so that a property given twice is named as its top-level key.
    for key, value in sorted(body.items(), key=lambda item: item[0] == _CUSTOM_PROPERTIES):
        if key == _CUSTOM_PROPERTIES:
            _read_custom_properties(changes, value)
        elif key in _FIELDS or key in _PROPERTIES:
            attribute, clean = _FIELDS.get(key) or _PROPERTIES[key]
            value = clean(value, key)
            if attribute:
                changes.set(attribute, value, key)
        elif key in _ASSIGNED:
            raise InvalidArgument(f"{key} is set by the service and cannot be given", field=key)
        else:
            raise InvalidArgument(f"unknown field {key}; the fields are {', '.join([*_FIELDS, *_PROPERTIES])} and "
                                  f"{_CUSTOM_PROPERTIES}", field=key)
    return changes


def _read_custom_properties(changes: ProjectChanges, properties) -> None:
    if not isinstance(properties, dict):
        raise InvalidArgument(f"{_CUSTOM_PROPERTIES} must be an object", field=_CUSTOM_PROPERTIES)
    for name, value in properties.items():
        path = f"{_CUSTOM_PROPERTIES}.{name}"
        if name in _PROPERTIES:
            attribute, clean = _PROPERTIES[name]
            changes.set(attribute, clean(value, path), path)
        elif name == "projectCode":
            raise InvalidArgument(f"{path} is set by the service and cannot be given", field=path)
        elif name in _FIELDS or name in _ASSIGNED or name == _CUSTOM_PROPERTIES:
            # A free-form key named like a field of the project would look set but change nothing.
            raise InvalidArgument(f"{path}: {name} is a field of the project, not a property; give it at the top "
                                  "level", field=path)
        else:
            changes.free_properties[name] = value


class ProjectsService:
    def __init__(self, database: Database, crm: CrmOrganizations):
        self._database = database
        self._crm = crm

    # Writes

    def create_project(self, principal: Principal, credential: str, body: dict) -> Project:
        """A draft project from `body` (the request's JSON object) with the next code of the year.
        `credential` is the caller's, to ask the CRM about the client on their behalf."""
        changes = project_changes(body)
        for required in ("name", "subtype"):
            if required not in changes.values:
                raise InvalidArgument(f"{required} is required", field=required)
        if "status" in changes.values:
            model.check_new_status(changes.values["status"], changes.paths["status"])
        free_properties = model.merged_free_properties({}, changes.free_properties)
        self._check_client(changes, credential)

        def create(repo: ProjectsRepository) -> Project:
            now = now_ms()
            year = model.code_year(now)
            project = Project(id=new_id("prj"), organization_id=principal.organization_id,
                              project_code=model.project_code(year, repo.next_project_number(principal.organization_id,
                                                                                            year)),
                              free_properties=free_properties, created_by=principal.credential_id,
                              created_at=now, updated_at=now, **changes.values)
            project.check_schedule(changes.schedule_field())
            repo.add_project(project)
            return project
        return self._write(create)

    def update_project(self, organization_id: str, credential: str, project_id: str, body: dict) -> Project:
        """Applies a PATCH body (a JSON object of the fields to change) as a whole, or not at all."""
        changes = project_changes(body)
        values = dict(changes.values)
        status = values.pop("status", None)
        self._check_client(changes, credential)

        def update(repo: ProjectsRepository) -> Project:
            project = self._project(repo, organization_id, project_id)
            counted_as = project.count_key
            for attribute, value in values.items():
                setattr(project, attribute, value)
            project.free_properties = model.merged_free_properties(project.free_properties, changes.free_properties)
            if status:
                project.change_status(status)
            project.check_schedule(changes.schedule_field())
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

    # Reads: a portal user sees only the projects whose client is the CRM organization it was
    # granted (Principal.crm_organization_id), and never drafts.

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
            where = dataclasses.replace(where, client_org_id=own, published_only=True)
        with self._database.hot() as connection:
            return views.project_page(connection, principal.organization_id, where, limit, offset)

    # Helpers

    def _check_client(self, changes: ProjectChanges, credential: str) -> None:
        """A client must be a CRM organization of the caller's; asked before the transaction, so
        that no write lock is held while the CRM answers."""
        client = changes.values.get("client_org_id")
        if client and not self._crm.has_organization(client, credential):
            field = changes.paths["client_org_id"]
            raise InvalidArgument(f"{field} {client!r} is not one of your CRM organizations", field=field)

    @staticmethod
    def _project(repo: ProjectsRepository, organization_id: str, project_id: str) -> Project:
        project = repo.project(organization_id, project_id)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        return project

    def _write(self, work: Callable[[ProjectsRepository], T]) -> T:
        return self._database.run_write(lambda connection: work(ProjectsRepository(connection, locking=True)))
