"""Read models: the protobuf view of a project, and the queries that read it.

Each project row also stores its serialized portal.projects.v1.Project (column `view`), written in
the same statement as the row (see repository.py), so that reads return it without rebuilding
messages field by field.
"""
import dataclasses
import functools

import sqlalchemy as sa

from portal.projects.v1 import projects_pb2
from portal_common.db import HotConnection, HotQuery, like_pattern
from portal_common.wire import repeated_message_field
from projects.adapters.tables import project_counts, projects
from projects.domain.model import DRAFT, Project

_PROJECTS_FIELD = projects_pb2.ListProjectsResponse.DESCRIPTOR.fields_by_name["projects"].number
_OF_ORGANIZATION = projects.c.organization_id == sa.bindparam("organization_id")
_BY_ID = projects.c.id == sa.bindparam("project_id")
_VIEW_BY_ID = HotQuery(sa.select(projects.c.view).where(_OF_ORGANIZATION, _BY_ID))
# What a client's portal user may see: its CRM organization's projects, never drafts.
_PUBLISHED = projects.c.status != DRAFT
_CLIENT_VIEW_BY_ID = HotQuery(sa.select(projects.c.view).where(
    _OF_ORGANIZATION, _BY_ID, projects.c.client_org_id == sa.bindparam("client_org_id"), _PUBLISHED))


@dataclasses.dataclass(frozen=True)
class ProjectFilter:
    status: str = ""
    subtype: str = ""
    priority: str = ""
    client_org_id: str = ""
    search: str = ""
    # Leave drafts out: what a client's portal user may list.
    published_only: bool = False

    def given(self) -> dict[str, bool]:
        return {name: bool(value) for name, value in dataclasses.asdict(self).items()}


def project_view(connection: HotConnection, organization_id: str, project_id: str,
                 client_org_id: str | None = None) -> projects_pb2.Project | None:
    """The project, if it belongs to the organization (and, when given, to that client)."""
    params = {"organization_id": organization_id, "project_id": project_id}
    if client_org_id is None:
        rows = _VIEW_BY_ID.rows(connection, params)
    else:
        rows = _CLIENT_VIEW_BY_ID.rows(connection, {**params, "client_org_id": client_org_id})
    return projects_pb2.Project.FromString(rows[0][0]) if rows else None


def project_page(connection: HotConnection, organization_id: str, where: ProjectFilter, limit: int,
                 offset: int) -> projects_pb2.ListProjectsResponse:
    """A page of projects, newest first, and how many match in all."""
    page, count = _list_queries(**where.given())
    params = {**dataclasses.asdict(where), "search": like_pattern(where.search),
              "organization_id": organization_id, "limit": limit, "offset": offset}
    views = (view for view, in page.rows(connection, params))
    response = projects_pb2.ListProjectsResponse.FromString(repeated_message_field(_PROJECTS_FIELD, views))
    response.total, response.limit, response.offset = int(count.rows(connection, params)[0][0]), limit, offset
    return response


@functools.cache
def _list_queries(status: bool, subtype: bool, priority: bool, client_org_id: bool, search: bool,
                  published_only: bool):
    """(page, total) statements for one combination of filters, built once; values are bound later.

    Totals without a client or a search come from the project_counts counters, so that they cost
    the same at 100,000 projects as at ten.
    """
    conditions = [_OF_ORGANIZATION]
    counters = [project_counts.c.organization_id == sa.bindparam("organization_id")]
    for name, given in (("status", status), ("subtype", subtype), ("priority", priority)):
        if given:
            conditions.append(projects.c[name] == sa.bindparam(name))
            counters.append(project_counts.c[name] == sa.bindparam(name))
    if client_org_id:
        conditions.append(projects.c.client_org_id == sa.bindparam("client_org_id"))
    if search:
        conditions.append(projects.c.search_text.like(sa.bindparam("search"), escape="\\"))
    if published_only:
        conditions.append(_PUBLISHED)
    page = (sa.select(projects.c.view).where(*conditions)
            .order_by(projects.c.created_at.desc(), projects.c.id.desc())
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")))
    if client_org_id or search or published_only:
        total = sa.select(sa.func.count()).select_from(projects).where(*conditions)
    else:
        total = sa.select(sa.func.coalesce(sa.func.sum(project_counts.c.count), 0)).where(*counters)
    return HotQuery(page), HotQuery(total)


def project_message(project: Project) -> projects_pb2.Project:
    message = projects_pb2.Project(
        id=project.id, organization_id=project.organization_id, type="project", subtype=project.subtype,
        name=project.name, description=project.description, status=project.status,
        created_by=project.created_by, created_at=project.created_at, updated_at=project.updated_at,
    )
    message.custom_properties.update(custom_properties(project))
    return message


def custom_properties(project: Project) -> dict:
    """The seed's customProperties: the free-form keys and the known properties that have a value.
    (A Struct holds numbers as doubles: whole numbers up to 2^53 stay exact.)"""
    budget = project.budget
    known = {
        "projectCode": project.project_code, "startDate": project.start_date,
        "targetEndDate": project.target_end_date,
        "budget": {"amount": float(budget.amount), "amountInMinorUnits": budget.minor_units,
                   "currency": budget.currency} if budget else None,
        "priority": project.priority, "progress": project.progress, "clientOrgId": project.client_org_id,
        "detailedDescription": project.detailed_description,
    }
    return {**project.free_properties, **{key: value for key, value in known.items() if value is not None}}
