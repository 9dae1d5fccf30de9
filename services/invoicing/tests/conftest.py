"""Fixtures of the invoicing tests: a CRM and profiles that live in memory, an email queue, and the use cases on
a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE=postgres). It also makes
invoice_factory.py importable by the test modules (pytest runs with --import-mode=importlib, which
does not put test directories on sys.path)."""

import pathlib
import sys

import pytest

from invoicing.adapters import tables
from invoicing.adapters.pdf import render_invoice
from invoicing.adapters.unit_of_work import SqlInvoicingUnitOfWork
from invoicing.api import mapping
from invoicing.config import MIGRATIONS
from invoicing.domain.model import Address, Issuer
from invoicing.queries import InvoiceQueries
from invoicing.server import new_outbox
from invoicing.service_layer.email import InvoiceEmails
from invoicing.service_layer.email_queue import EmailQueue
from invoicing.service_layer.invoices import CrmContact, CrmOrganization, InvoicingService
from invoicing.service_layer.renders import InvoicePdfs
from portal_common import db
from portal_common.auth import PORTAL_USER, Principal
from portal_common.clock import now_ms
from portal_common.domain_errors import Unavailable

# The tenant organizations of these tests; each test module names them the same way.
ORG, OTHER_ORG = "org_a", "org_b"

sys.path.insert(0, str(pathlib.Path(__file__).parent))


class FakeCrm:
    """The CRM as invoicing asks it: records per tenant organization (the credential stands for it)."""

    def __init__(self):
        self.contacts: dict[str, dict[str, CrmContact]] = {}
        self.organizations: dict[str, dict[str, CrmOrganization]] = {}
        self.down = False
        self.calls = 0

    def add_organization(
        self,
        tenant: str,
        id_: str,
        name: str,
        billing_email: str | None = None,
        address: Address | None = None,
        tax_id: str | None = None,
    ) -> CrmOrganization:
        found = self.organizations.setdefault(tenant, {})[id_] = CrmOrganization(
            id_, name, billing_email, address or Address(), tax_id
        )
        return found

    def add_contact(
        self, tenant: str, id_: str, name: str, email: str, crm_organization_id: str | None = None
    ) -> CrmContact:
        found = self.contacts.setdefault(tenant, {})[id_] = CrmContact(id_, name, email, crm_organization_id)
        return found

    def _ask(self):
        self.calls += 1
        if self.down:
            raise Unavailable("the CRM service did not answer (UNAVAILABLE); try again shortly")

    def contact(self, contact_id, credential):
        self._ask()
        return self.contacts.get(credential, {}).get(contact_id)

    def organization(self, crm_organization_id, credential):
        self._ask()
        return self.organizations.get(credential, {}).get(crm_organization_id)


class FakeProfiles:
    """The organizations' profiles as the auth service keeps them: the issuer of their invoices."""

    def __init__(self):
        self.issuers = {
            tenant: Issuer(
                name=f"Issuer of {tenant}",
                legal_name=f"Issuer of {tenant} GmbH",
                email=f"billing@{tenant}.example",
                tax_id=f"DE-{tenant}",
                address=Address(street="Hauptstraße 5", city="Berlin", postal_code="10115", country="DE"),
            )
            for tenant in (ORG, OTHER_ORG)
        }
        self.down = False

    def issuer(self, organization_id):
        if self.down:
            raise Unavailable("the auth service did not answer (UNAVAILABLE); try again shortly")
        return self.issuers[organization_id]


@pytest.fixture
def crm() -> FakeCrm:
    fake = FakeCrm()
    for tenant in (ORG, OTHER_ORG):
        fake.add_organization(
            tenant,
            f"co_acme_{tenant}",
            "Łódź Works",
            "billing@lodz.example",
            Address(street="ul. Piotrkowska 1", city="Łódź", postal_code="90-001", country="PL"),
        )
        fake.add_contact(tenant, f"ct_zoe_{tenant}", "Zoë Müller", "zoe@example.com", f"co_acme_{tenant}")
        fake.add_contact(tenant, f"ct_max_{tenant}", "Max Mustermann", "max@example.com", f"co_acme_{tenant}")
        fake.add_contact(tenant, f"ct_solo_{tenant}", "日本 Solo", "solo@example.com")
    return fake


@pytest.fixture
def profiles() -> FakeProfiles:
    return FakeProfiles()


@pytest.fixture
def email_queue() -> EmailQueue:
    return EmailQueue("invoicing.test")


@pytest.fixture(scope="module")
def migrated_engine(databases):
    with databases.migrated_engine("invoicing", MIGRATIONS) as engine:
        yield engine


@pytest.fixture
def engine(migrated_engine):
    """The module's database, emptied for each test (a new PostgreSQL database per test costs 2 s)."""
    with migrated_engine.begin() as connection:
        for table in reversed(tables.metadata.sorted_tables):
            connection.execute(table.delete())
    return migrated_engine


class Invoicing:
    """The use cases on a real database, their errors naming fields as a client wrote them, and the
    reads as the servicer makes them (a query, then the API's message)."""

    def __init__(self, engine, crm, email_queue: EmailQueue, pdfs: InvoicePdfs, profiles: FakeProfiles):
        database = db.Database(engine)

        def uow(read_only=False):
            return SqlInvoicingUnitOfWork(database, new_outbox(), mapping.invoice_view, read_only)

        self.emails = InvoiceEmails(uow, email_queue)
        self.service = InvoicingService(
            uow,
            crm,
            email_queue,
            pdfs,
            profiles=profiles,
        )
        self.queries = InvoiceQueries(database)

    def __getattr__(self, name):  # the use cases
        use_case = getattr(self.service, name)

        def as_the_api_calls_it(*args):
            with mapping.ClientPaths().as_written():
                return use_case(*args)

        return as_the_api_calls_it

    def get_invoice(self, principal, invoice_id):
        return mapping.read_invoice(self.queries.invoice_view(principal, invoice_id), now_ms())

    def list_invoices(self, principal, where, limit, offset):
        now = now_ms()
        return mapping.invoice_page(self.queries.invoice_page(principal, where, limit, offset, now), limit, offset, now)

    def list_billed_to(self, principal, where, limit, offset, credential):
        self.service.check_billed_party(principal, where.contact_id, where.crm_organization_id, credential)
        return self.list_invoices(principal, where, limit, offset)


@pytest.fixture
def open_invoicing(crm, email_queue, profiles):
    """Makes the use cases and reads on a given engine."""
    return lambda engine: Invoicing(engine, crm, email_queue, InvoicePdfs(render_invoice), profiles)


@pytest.fixture
def invoicing(engine, open_invoicing) -> Invoicing:
    return open_invoicing(engine)


@pytest.fixture
def portal_user():
    """Makes the principal of a portal user linked to these CRM records."""

    def make(contact_id: str = "", crm_organization_id: str = "", organization_id: str = ORG) -> Principal:
        return Principal(
            kind=PORTAL_USER,
            organization_id=organization_id,
            portal_user_id="pu_x",
            crm_contact_id=contact_id,
            crm_organization_id=crm_organization_id,
        )

    return make
