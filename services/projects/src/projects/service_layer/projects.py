"""Project use cases: one unit of work (transaction) each, committed explicitly. They take checked
changes (domain.model.ProjectChanges), raise domain errors and return domain Projects, and record
the events of what they changed in the unit of work (docs/events.md)."""

import copy
from typing import Callable, Protocol

from portal_common.clock import now_ms
from portal_common.domain_errors import InvalidArgument, NotFound
from portal_common.ids import new_id
from portal_common.outbox import changed
from portal_common.principal import Principal
from projects.domain.model import UNSET, Project, ProjectChanges, code_year, project_code
from projects.service_layer.unit_of_work import ProjectsUnitOfWork


class CrmOrganizations(Protocol):
    def has_organization(self, crm_organization_id: str, credential: str) -> bool: ...


class ProjectsService:
    """`unit_of_work` makes a new unit of work for each call."""

    def __init__(self, unit_of_work: Callable[[], ProjectsUnitOfWork], crm: CrmOrganizations):
        self._unit_of_work = unit_of_work
        self._crm = crm

    def create(self, principal: Principal, credential: str, changes: ProjectChanges) -> Project:
        """A draft project with the next code of the year. `credential` is the caller's, to ask the
        CRM about the client on their behalf."""
        changes.check_new()
        self._check_client(changes, credential)
        with self._unit_of_work() as uow:
            now = now_ms()
            year = code_year(now)
            number = uow.projects.next_project_number(principal.organization_id, year)
            project = Project.new(
                changes,
                id=new_id("prj"),
                organization_id=principal.organization_id,
                project_code=project_code(year, number),
                created_by=principal.credential_id,
                now=now,
            )
            uow.projects.add(project)
            uow.events.add("project.created", project.organization_id, project)
            uow.commit()
        return project

    def update(self, organization_id: str, credential: str, project_id: str, changes: ProjectChanges) -> Project:
        """Applies a partial update as a whole, or not at all."""
        self._check_client(changes, credential)
        with self._unit_of_work() as uow:
            project = _existing(uow, organization_id, project_id)
            before = copy.deepcopy(project)
            project.apply(changes, now_ms())
            uow.projects.save(project)
            if changed(before, project):
                uow.events.add("project.updated", organization_id, project)
            uow.commit()
        return project

    def archive(self, organization_id: str, project_id: str) -> Project:
        with self._unit_of_work() as uow:
            project = _existing(uow, organization_id, project_id)
            status = project.status
            project.archive(now_ms())
            if project.status != status:  # archiving a cancelled project changes nothing
                uow.projects.save(project)
                uow.events.add("project.archived", organization_id, project)
                uow.commit()
        return project

    def delete(self, organization_id: str, project_id: str) -> None:
        with self._unit_of_work() as uow:
            project = _existing(uow, organization_id, project_id)
            project.check_deletable()
            uow.projects.delete(project)
            uow.events.add("project.deleted", organization_id, project)  # as it was last
            uow.commit()

    def _check_client(self, changes: ProjectChanges, credential: str) -> None:
        """A client must be a CRM organization of the caller's; asked before the transaction, so
        that no write lock is held while the CRM answers."""
        client = changes.client_org_id
        if client not in (UNSET, None) and not self._crm.has_organization(client, credential):
            raise InvalidArgument(
                f"client_org_id {client!r} is not one of your CRM organizations", field="client_org_id"
            )


def _existing(uow: ProjectsUnitOfWork, organization_id: str, project_id: str) -> Project:
    project = uow.projects.get(organization_id, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return project
