"""The invoicing unit of work: one write transaction and the invoices repository in it."""
import sqlalchemy as sa

from invoicing.adapters.repository import InvoiceRepository, RenderView
from portal_common.db import Database
from portal_common.uow import SqlUnitOfWork


class SqlInvoicingUnitOfWork(SqlUnitOfWork):
    def __init__(self, database: Database, render_view: RenderView):
        super().__init__(database)
        self._render_view = render_view

    def open(self, connection: sa.Connection) -> None:
        self.invoices = InvoiceRepository(connection, self._render_view, locking=True)
