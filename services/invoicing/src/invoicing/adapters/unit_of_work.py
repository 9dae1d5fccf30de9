"""The invoicing unit of work: one transaction, the repositories in it (invoices, their emails), and
the events it records (portal_common.outbox)."""

import sqlalchemy as sa

from invoicing.adapters.outbox import OutboundEmailRepository
from invoicing.adapters.repository import InvoiceRepository, RenderView
from portal_common.db import Database
from portal_common.outbox import Outbox, OutboxUnitOfWork


class SqlInvoicingUnitOfWork(OutboxUnitOfWork):
    def __init__(self, database: Database, outbox: Outbox, render_view: RenderView, read_only: bool = False):
        super().__init__(database, outbox, read_only)
        self._render_view = render_view

    def open(self, connection: sa.Connection) -> None:
        self.invoices = InvoiceRepository(connection, self._render_view, locking=not self.read_only)
        self.emails = OutboundEmailRepository(connection)
