"""The hot reads, which the servicer calls directly: projects as their stored read model.

Each project row also holds `view`, its serialized API message, written with the row from the
record (see adapters/repository.py), so that reads return it without building messages field by
field. These queries find the views a caller may see; the api layer turns them into responses.
"""

import dataclasses
import functools
from typing import Sequence

import sqlalchemy as sa

from portal_common.db import Database, HotQuery, like_pattern
from portal_common.domain_errors import NotFound
from portal_common.principal import Principal
from portal_common.validation import check_choice
from projects.adapters.tables import project_counts, projects
from projects.domain.model import DRAFT, PRIORITIES, STATUSES, SUBTYPES

_OF_ORGANIZATION = projects.c.organization_id == sa.bindparam("organization_id")
_BY_ID = projects.c.id == sa.bindparam("project_id")
_VIEW_BY_ID = HotQuery(sa.select(projects.c.view).where(_OF_ORGANIZATION, _BY_ID))
# What a client's portal user may see: its CRM organization's projects, never drafts.
_PUBLISHED = projects.c.status != DRAFT
_CLIENT_VIEW_BY_ID = HotQuery(
    sa.select(projects.c.view).where(
        _OF_ORGANIZATION, _BY_ID, projects.c.client_org_id == sa.bindparam("client_org_id"), _PUBLISHED
    )
)


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


@dataclasses.dataclass(frozen=True)
class ProjectPage:
    """The views of a page of projects, newest first, and how many match in all."""

    views: list[bytes]
    total: int


class ProjectQueries:
    """A portal user sees only the projects whose client is the CRM organization it was granted
    (Principal.crm_organization_id), and never drafts."""

    def __init__(self, database: Database):
        self._database = database

    def project_view(self, principal: Principal, project_id: str) -> bytes:
        rows: Sequence[tuple] = []
        client = principal.crm_organization_id if principal.is_portal_user else None
        if client != "":  # "": a portal user linked to no CRM organization, who has no projects
            params = {"organization_id": principal.organization_id, "project_id": project_id}
            with self._database.hot() as connection:
                if client is None:
                    rows = _VIEW_BY_ID.rows(connection, params)
                else:
                    rows = _CLIENT_VIEW_BY_ID.rows(connection, {**params, "client_org_id": client})
        if not rows:
            raise NotFound(f"project {project_id} not found")
        return rows[0][0]

    def project_page(self, principal: Principal, where: ProjectFilter, limit: int, offset: int) -> ProjectPage:
        for value, allowed, field in (
            (where.status, STATUSES, "status"),
            (where.subtype, SUBTYPES, "subtype"),
            (where.priority, PRIORITIES, "priority"),
        ):
            if value:
                check_choice(value, allowed, field)
        if principal.is_portal_user:
            own = principal.crm_organization_id
            if not own or where.client_org_id not in ("", own):
                return ProjectPage([], 0)
            where = dataclasses.replace(where, client_org_id=own, published_only=True)
        page, count = _list_queries(**where.given())
        params = {
            **dataclasses.asdict(where),
            "search": like_pattern(where.search),
            "organization_id": principal.organization_id,
            "limit": limit,
            "offset": offset,
        }
        with self._database.hot() as connection:
            views = [view for (view,) in page.rows(connection, params)]
            return ProjectPage(views, int(count.rows(connection, params)[0][0]))


@functools.cache
def _list_queries(status: bool, subtype: bool, priority: bool, client_org_id: bool, search: bool, published_only: bool):
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
    page = (
        sa.select(projects.c.view)
        .where(*conditions)
        .order_by(projects.c.created_at.desc(), projects.c.id.desc())
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )
    if client_org_id or search or published_only:
        total = sa.select(sa.func.count()).select_from(projects).where(*conditions)
    else:
        total = sa.select(sa.func.coalesce(sa.func.sum(project_counts.c.count), 0)).where(*counters)
    return HotQuery(page), HotQuery(total)
