"""The hot reads (cosmicpython's views): an invoice by id and pages of invoices, as the stored
views (the pre-serialized API message that every write rebuilds from the record, see
adapters/repository.py). The servicer calls these directly and turns the bytes into its answer.

Statements are built once per shape and run straight on the driver (portal_common.db.HotQuery):
these reads are most of the traffic, and SQLAlchemy's execution path would cost more than the query.
"""

import dataclasses
import functools

import sqlalchemy as sa

from invoicing.adapters.tables import invoice_counts, invoices
from invoicing.domain.model import CANCELLED, DRAFT, OVERDUE, STATUSES, TYPES, UNPAID
from portal_common.db import Database, HotQuery
from portal_common.domain_errors import NotFound
from portal_common.principal import Principal
from portal_common.timestamps import check_timestamp
from portal_common.validation import check_choice

_param, _c = sa.bindparam, invoices.c
# What a portal user sees, as Invoice.visible_to_customer says: drafts are not issued yet, so a
# customer sees an invoice from the moment it is sent, when it is billed to them.
_CUSTOMER_SEES = (
    _c.status != DRAFT,
    sa.or_(
        _c.bill_to_contact_id == _param("visible_contact_id"),
        _c.bill_to_crm_organization_id == _param("visible_crm_organization_id"),
    ),
)
_BY_ID = (_c.organization_id == _param("organization_id"), _c.id == _param("invoice_id"))
_VIEW_BY_ID = {
    False: HotQuery(sa.select(_c.view).where(*_BY_ID)),
    True: HotQuery(sa.select(_c.view).where(*_BY_ID, *_CUSTOMER_SEES)),
}


@dataclasses.dataclass(frozen=True)
class InvoiceFilter:
    """What a list asks for; empty or None means any."""

    status: str = ""
    type: str = ""
    contact_id: str = ""
    crm_organization_id: str = ""
    start_date: int | None = None
    end_date: int | None = None
    include_cancelled: bool = True

    def checked(self) -> "InvoiceFilter":
        if self.status:
            check_choice(self.status, STATUSES, "status")
        if self.type:
            check_choice(self.type, TYPES, "type")
        return dataclasses.replace(
            self,
            start_date=None if self.start_date is None else check_timestamp(self.start_date, "start_date"),
            end_date=None if self.end_date is None else check_timestamp(self.end_date, "end_date"),
        )


@dataclasses.dataclass(frozen=True)
class Page:
    views: list[bytes]  # stored views, newest first
    total: int  # how many match in all


def _visibility(principal: Principal) -> dict:
    return (
        {"visible_contact_id": principal.crm_contact_id, "visible_crm_organization_id": principal.crm_organization_id}
        if principal.is_portal_user
        else {}
    )


class InvoiceQueries:
    def __init__(self, database: Database):
        self._database = database

    def invoice_view(self, principal: Principal, invoice_id: str) -> bytes:
        """The stored view of an invoice the caller may read."""
        with self._database.hot() as connection:
            rows = _VIEW_BY_ID[principal.is_portal_user].rows(
                connection,
                {"organization_id": principal.organization_id, "invoice_id": invoice_id, **_visibility(principal)},
            )
        if not rows:
            raise NotFound(f"invoice {invoice_id} not found")
        return rows[0][0]

    def invoice_page(self, principal: Principal, where: InvoiceFilter, limit: int, offset: int, now: int) -> Page:
        """A page of the invoices the caller may read, with statuses matched as they read at `now`."""
        where = where.checked()
        page, count = _list_queries(*_shape(where, principal.is_portal_user))
        params = {
            **dataclasses.asdict(where),
            "organization_id": principal.organization_id,
            "now": now,
            **_visibility(principal),
            "limit": limit,
            "offset": offset,
        }
        with self._database.hot() as connection:
            views = [view for (view,) in page.rows(connection, params)]
            return Page(views, int(count.rows(connection, params)[0][0]))


def _shape(where: InvoiceFilter, portal_user: bool) -> tuple:
    """What decides the statement's form (values are bound later)."""
    status_kind = (
        ""
        if not where.status
        else "overdue"
        if where.status == OVERDUE
        else "unpaid"
        if where.status in UNPAID
        else "plain"
    )
    return (
        status_kind,
        bool(where.type),
        bool(where.contact_id),
        bool(where.crm_organization_id),
        where.start_date is not None,
        where.end_date is not None,
        where.include_cancelled,
        portal_user,
    )


@functools.cache
def _list_queries(
    status_kind: str,
    type_: bool,
    contact: bool,
    crm_organization: bool,
    start: bool,
    end: bool,
    include_cancelled: bool,
    portal_user: bool,
) -> tuple[HotQuery, HotQuery]:
    """(page, total) statements for one shape of filter, built once.

    The status filter matches statuses as they read: "overdue" also finds unpaid invoices whose
    overdue_at (model.overdue_from) has passed, and "sent" leaves those out, before the overdue
    job persists them. Totals that do not depend on the time or on the billTo come from the
    invoice_counts counters, so that they cost the same at 100k invoices as at ten; the others
    count rows.
    """
    param, c = _param, _c
    # One term per unpaid status (not status.in_(UNPAID): an IN list expands at execution time,
    # which HotQuery's precompiled SQL skips), each a range of the invoices_past_due index.
    past_due = [sa.and_(c.status == status, c.overdue_at <= param("now")) for status in UNPAID]
    conditions = [c.organization_id == param("organization_id")]
    if status_kind == "overdue":
        conditions.append(sa.or_(c.status == OVERDUE, *past_due))
    elif status_kind == "unpaid":
        conditions += [c.status == param("status"), c.overdue_at > param("now")]
    elif status_kind == "plain":
        conditions.append(c.status == param("status"))
    if type_:
        conditions.append(c.type == param("type"))
    if contact:
        conditions.append(c.bill_to_contact_id == param("contact_id"))
    if crm_organization:
        conditions.append(c.bill_to_crm_organization_id == param("crm_organization_id"))
    if start:
        conditions.append(c.issue_date >= param("start_date"))
    if end:
        conditions.append(c.issue_date <= param("end_date"))
    if not include_cancelled:
        conditions.append(c.status != CANCELLED)
    if portal_user:
        conditions += _CUSTOMER_SEES
    page = (
        sa.select(c.view)
        .where(*conditions)
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(param("limit"))
        .offset(param("offset"))
    )
    if (
        status_kind != "unpaid"
        and include_cancelled
        and not (contact or crm_organization or start or end or portal_user)
    ):
        counted = [invoice_counts.c.organization_id == param("organization_id")]
        if status_kind == "overdue":
            counted.append(invoice_counts.c.status == OVERDUE)
        elif status_kind:
            counted.append(invoice_counts.c.status == param("status"))
        if type_:
            counted.append(invoice_counts.c.type == param("type"))
        total = sa.select(sa.func.coalesce(sa.func.sum(invoice_counts.c.count), 0)).where(*counted)
        if status_kind == "overdue":
            # Plus those past due that the overdue job has not stored yet: few, and counted per
            # status, so that each count is one range of the invoices_past_due index.
            late = [
                sa.select(sa.func.count())
                .select_from(invoices)
                .where(
                    c.organization_id == param("organization_id"), term, *([c.type == param("type")] if type_ else [])
                )
                .scalar_subquery()
                for term in past_due
            ]
            total = sa.select(sum(late, total.scalar_subquery()))
    else:
        total = sa.select(sa.func.count()).select_from(invoices).where(*conditions)
    return HotQuery(page), HotQuery(total)
