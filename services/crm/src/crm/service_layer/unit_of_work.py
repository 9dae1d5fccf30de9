"""The CRM's unit of work: one write transaction, the repositories that work in it, and the events
it records (portal_common.outbox)."""

from typing import Callable

import sqlalchemy as sa

from crm.adapters.repository import ContactRepository, CrmOrganizationRepository
from crm.domain.model import Contact
from portal_common.db import Database
from portal_common.outbox import Outbox, OutboxUnitOfWork


class CrmUnitOfWork(OutboxUnitOfWork):
    contacts: ContactRepository
    organizations: CrmOrganizationRepository

    def __init__(self, database: Database, outbox: Outbox, contact_view: Callable[[Contact], bytes]):
        super().__init__(database, outbox)
        self._contact_view = contact_view

    def open(self, connection: sa.Connection) -> None:
        self.contacts = ContactRepository(connection, self._contact_view)
        self.organizations = CrmOrganizationRepository(connection, locking=True)
