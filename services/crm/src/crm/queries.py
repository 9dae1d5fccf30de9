"""The read model: what the reads return, straight from the database, without a unit of work.

Each contact row holds its read model, the serialized portal.crm.v1.Contact (`view`, rebuilt from
the record by every write: see repository.py), so GET and list pages return stored bytes instead of
rebuilding messages field by field; the api layer wraps them. List totals come from the
contact_counts counters where they can, so that they cost the same at a million contacts as at ten.
"""

import dataclasses
import functools
from typing import Sequence

import sqlalchemy as sa

from crm.adapters.repository import CRM_ORGANIZATION_BY_ID, ORGANIZATION_COLUMNS, organization_from_row
from crm.adapters.tables import contact_counts, contacts, crm_organizations
from crm.domain.model import ACTIVE, STATUSES, SUBTYPES, CrmOrganization, email_key
from portal_common.db import Database, HotQuery, like_pattern
from portal_common.domain_errors import NotFound
from portal_common.principal import Principal
from portal_common.validation import check_choice

_CONTACT_VIEW_BY_ID = HotQuery(
    sa.select(contacts.c.view).where(
        contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.id == sa.bindparam("key")
    )
)
_CONTACT_VIEW_BY_EMAIL = HotQuery(
    sa.select(contacts.c.view).where(
        contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.email_key == sa.bindparam("key")
    )
)
_PORTAL_ACCESS = sa.select(
    contacts.c.id, contacts.c.status, contacts.c.crm_organization_id, contacts.c.portal_access
).where(contacts.c.organization_id == sa.bindparam("organization_id"), contacts.c.id == sa.bindparam("key"))


@dataclasses.dataclass(frozen=True)
class ContactFilter:
    status: str = ""  # active when not given
    subtype: str = ""
    source: str = ""
    search: str = ""
    crm_organization_id: str = ""


@dataclasses.dataclass(frozen=True)
class ContactPage:
    views: list[bytes]  # serialized portal.crm.v1.Contact messages, newest first
    total: int


@dataclasses.dataclass(frozen=True)
class PortalAccess:
    """What a portal user's contact may see now."""

    contact_id: str
    status: str
    crm_organization_id: str | None
    portal_access: str


class CrmQueries:
    def __init__(self, database: Database):
        self._database = database

    def contact_view(self, principal: Principal, contact_id: str) -> bytes:
        """A contact of the principal's organization; a portal user reads only its own (and the api
        shows it only what a customer may see of it)."""
        rows: Sequence[tuple] = []
        if not principal.is_portal_user or contact_id == principal.crm_contact_id:
            with self._database.hot() as connection:
                rows = _CONTACT_VIEW_BY_ID.rows(
                    connection, {"organization_id": principal.organization_id, "key": contact_id}
                )
        if not rows:
            raise NotFound(f"contact {contact_id} not found")
        return rows[0][0]

    def contact_view_by_email(self, organization_id: str, email: str) -> bytes:
        """The contact with this email, archived or not (its status says which)."""
        with self._database.hot() as connection:
            rows = _CONTACT_VIEW_BY_EMAIL.rows(
                connection, {"organization_id": organization_id, "key": email_key(email)}
            )
        if not rows:
            raise NotFound("no contact has this email")
        return rows[0][0]

    def portal_access(self, organization_id: str, contact_id: str) -> PortalAccess:
        """The contact as a portal session needs it now: status, CRM organization and grant."""
        with self._database.read() as connection:
            row = connection.execute(_PORTAL_ACCESS, {"organization_id": organization_id, "key": contact_id}).first()
        if row is None:
            raise NotFound(f"contact {contact_id} not found")
        return PortalAccess(*row)

    def contact_page(self, organization_id: str, where: ContactFilter, limit: int, offset: int) -> ContactPage:
        """A page of contacts, newest first, and how many match in all."""
        where = dataclasses.replace(where, status=where.status or ACTIVE)
        check_choice(where.status, STATUSES, "status")
        if where.subtype:
            check_choice(where.subtype, SUBTYPES, "subtype")
        if where.crm_organization_id:
            self.crm_organization(organization_id, where.crm_organization_id)  # 404 if not theirs
        page, count = _contact_list_queries(
            subtype=bool(where.subtype),
            source=bool(where.source),
            search=bool(where.search),
            crm_organization_id=bool(where.crm_organization_id),
        )
        params = {
            "organization_id": organization_id,
            "status": where.status,
            "subtype": where.subtype,
            "source": where.source,
            "crm_organization_id": where.crm_organization_id,
            "search": like_pattern(where.search),
            "limit": limit,
            "offset": offset,
        }
        with self._database.hot() as connection:
            views = [view for (view,) in page.rows(connection, params)]
            return ContactPage(views, int(count.rows(connection, params)[0][0]))

    def crm_organization(self, organization_id: str, crm_organization_id: str) -> CrmOrganization:
        with self._database.read() as connection:
            row = connection.execute(
                CRM_ORGANIZATION_BY_ID, {"organization_id": organization_id, "key": crm_organization_id}
            ).first()
        if row is None:
            raise NotFound(f"CRM organization {crm_organization_id} not found")
        return organization_from_row(row)

    def crm_organizations(
        self, organization_id: str, industry: str, search: str, limit: int, offset: int
    ) -> tuple[list[CrmOrganization], int]:
        """A page of CRM organizations, newest first, and how many match in all."""
        conditions = [crm_organizations.c.organization_id == organization_id]
        if industry:
            conditions.append(sa.func.lower(crm_organizations.c.industry) == industry.strip().lower())
        if search:
            pattern = like_pattern(search)
            conditions.append(
                sa.or_(
                    crm_organizations.c.name_key.like(pattern, escape="\\"),
                    crm_organizations.c.website_key.like(pattern, escape="\\"),
                )
            )
        with self._database.read() as connection:
            rows = connection.execute(
                sa.select(*ORGANIZATION_COLUMNS)
                .where(*conditions)
                .order_by(crm_organizations.c.created_at.desc(), crm_organizations.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            total = connection.execute(sa.select(sa.func.count()).where(*conditions)).scalar_one()
        return [organization_from_row(row) for row in rows], total


@functools.cache
def _contact_list_queries(subtype: bool, source: bool, search: bool, crm_organization_id: bool):
    """(page, total) statements for one combination of filters, built once; values are bound later."""
    param = sa.bindparam
    conditions = [contacts.c.organization_id == param("organization_id"), contacts.c.status == param("status")]
    counters = [
        contact_counts.c.organization_id == param("organization_id"),
        contact_counts.c.status == param("status"),
    ]
    if subtype:
        conditions.append(contacts.c.subtype == param("subtype"))
        counters.append(contact_counts.c.subtype == param("subtype"))
    if source:
        conditions.append(contacts.c.source == param("source"))
        counters.append(contact_counts.c.source == param("source"))
    if crm_organization_id:
        conditions.append(contacts.c.crm_organization_id == param("crm_organization_id"))
    if search:
        conditions.append(contacts.c.search_text.like(param("search"), escape="\\"))
    page = (
        sa.select(contacts.c.view)
        .where(*conditions)
        .order_by(contacts.c.created_at.desc(), contacts.c.id.desc())
        .limit(param("limit"))
        .offset(param("offset"))
    )
    if search or crm_organization_id:
        total = sa.select(sa.func.count()).select_from(contacts).where(*conditions)
    else:
        total = sa.select(sa.func.coalesce(sa.func.sum(contact_counts.c.count), 0)).where(*counters)
    return HotQuery(page), HotQuery(total)
