import socket

from invoicing.adapters.auth_client import AuthClient
from invoicing.adapters.crm_client import CrmClient
from invoicing.adapters.mail_files import MailDirectory
from invoicing.adapters.mail_message import MessageComposer, mail_address
from invoicing.adapters.outbox import emails_waiting
from invoicing.adapters.payments_repository import SqlPaymentsUnitOfWork
from invoicing.adapters.render_processes import ProcessRenderer
from invoicing.adapters.smtp import SmtpTransport, parse_smtp_url
from invoicing.adapters.tables import idempotency_keys, outbox_events
from invoicing.adapters.unit_of_work import SqlInvoicingUnitOfWork
from invoicing.api import mapping
from invoicing.api.payments import PaymentsServicer
from invoicing.api.servicers import InvoicingServicer
from invoicing.config import MIGRATIONS, Settings
from invoicing.queries import InvoiceQueries
from invoicing.service_layer.email import EmailSender, EmailWorker, InvoiceEmails, MailTransport
from invoicing.service_layer.email_queue import EmailQueue
from invoicing.service_layer.invoices import InvoicingService
from invoicing.service_layer.payments import PaymentsService
from invoicing.service_layer.renders import RENDERS_IN_ALL, InvoicePdfs
from portal.invoicing.v1 import invoicing_pb2, invoicing_pb2_grpc, payments_pb2, payments_pb2_grpc
from portal_common import db, metrics
from portal_common.address_limits import FailureBudget
from portal_common.auth import AuthInterceptor, remote_credentials
from portal_common.errors import ErrorInterceptor
from portal_common.event_bus import start_relay
from portal_common.idempotency import IdempotencyInterceptor, IdempotencyKeys, expired_keys_purge
from portal_common.observability import start_process
from portal_common.outbox import Outbox
from portal_common.periodic import Periodic
from portal_common.sealed_secrets import SecretBox
from portal_common.server import Worker, create_server, serve_forever

SERVICE_NAME = invoicing_pb2.DESCRIPTOR.services_by_name["InvoicingService"].full_name
# What a portal user (a customer, with a session token) may do: read the invoices billed to them.
PORTAL_USER_METHODS = frozenset(
    {"ListInvoices", "GetInvoice", "GetInvoicePdf", "ListContactInvoices", "ListCrmOrganizationInvoices"}
)
# Every POST of the package's services takes an Idempotency-Key, except the public webhook receiver
# (no organization calls it: providers retry with their own event ids, stored once).
IDEMPOTENT_PREFIX = f"/{invoicing_pb2.DESCRIPTOR.package}."
PUBLIC_METHODS = frozenset({f"{IDEMPOTENT_PREFIX}PaymentsService/ReceivePaymentWebhook"})
PAYMENTS = payments_pb2.DESCRIPTOR.services_by_name["PaymentsService"]
# What needs a credential: every method of the package's services but the public ones, so that a
# method added later is not public by mistake.
AUTHENTICATED = (
    f"/{SERVICE_NAME}/",
    *(
        f"/{PAYMENTS.full_name}/{method.name}"
        for method in PAYMENTS.methods
        if f"/{PAYMENTS.full_name}/{method.name}" not in PUBLIC_METHODS
    ),
)


def mail_transport(settings: Settings) -> MailTransport:
    """SMTP when PORTAL_SMTP_URL is set, else .eml files in the data directory."""
    if settings.smtp_url:
        return SmtpTransport(parse_smtp_url(settings.smtp_url), settings.smtp_ca_file)
    return MailDirectory(settings.mail_dir)


def new_outbox() -> Outbox:
    """The invoicing service's outbox of events; the api layer makes their JSON."""
    return Outbox(outbox_events, mapping.event_object)


def open_database(settings: Settings) -> db.Database:
    """The invoicing database, migrated: one per process, shared by its invoices, payments and
    idempotency keys (each engine keeps its own pool of connections)."""
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    return db.Database(engine)


def open_invoicing(
    settings: Settings, database: db.Database, pdfs: InvoicePdfs | None = None, outbox: Outbox | None = None
) -> InvoicingServicer:
    pdfs = pdfs or InvoicePdfs(ProcessRenderer(RENDERS_IN_ALL), cache_bytes=settings.pdf_cache_mb * 2**20)
    events = outbox or new_outbox()

    # The repository stores the API's view of each invoice as the hot reads' cache: api/ builds it.
    def uow(read_only: bool = False) -> SqlInvoicingUnitOfWork:
        return SqlInvoicingUnitOfWork(database, events, mapping.invoice_view, read_only)

    mail_from = mail_address(settings.mail_from, "PORTAL_MAIL_FROM")
    queue = EmailQueue(mail_from.domain)
    # The worker's name: unique among the replicas running at once, the same after a restart (its
    # listening address), so that a restarted replica takes back the emails it held at once.
    worker = f"{socket.gethostname()}/{settings.address}"
    sender = EmailSender(uow, pdfs, MessageComposer(mail_from), mail_transport(settings), worker, settings.retry_scale)
    emails = InvoiceEmails(uow, queue, EmailWorker(sender, queue.pending))
    invoicing = InvoicingService(
        uow,
        CrmClient(settings.crm_target, settings.crm_timeout_seconds),
        queue,
        pdfs,
        AuthClient(settings.auth_target, settings.auth_timeout_seconds, settings.internal_token),
    )
    return InvoicingServicer(invoicing, emails, InvoiceQueries(database))


def open_payments(settings: Settings, database: db.Database, outbox: Outbox | None = None) -> PaymentsServicer:
    """The payment webhooks, on the invoicing database."""
    box = SecretBox(settings.secrets_key)
    events = outbox or new_outbox()

    def uow(read_only: bool = False) -> SqlPaymentsUnitOfWork:
        return SqlPaymentsUnitOfWork(database, events, mapping.invoice_view, box, read_only)

    return PaymentsServicer(PaymentsService(uow))


def build(
    settings: Settings,
    address: str,
    database: db.Database | None = None,
    servicer: InvoicingServicer | None = None,
    payments: PaymentsServicer | None = None,
):
    database = database or open_database(settings)
    servicer = servicer or open_invoicing(settings, database)
    payments = payments or open_payments(settings, database)
    credentials = remote_credentials(settings)
    return create_server(
        address,
        [
            (invoicing_pb2_grpc.add_InvoicingServiceServicer_to_server, servicer, SERVICE_NAME),
            (payments_pb2_grpc.add_PaymentsServiceServicer_to_server, payments, PAYMENTS.full_name),
        ],
        interceptors=[
            ErrorInterceptor(),
            AuthInterceptor(
                credentials,
                prefixes=AUTHENTICATED,
                portal_user_methods=PORTAL_USER_METHODS,
                failures=FailureBudget(settings.auth_failures_per_minute),
            ),
            IdempotencyInterceptor(
                IdempotencyKeys(database, idempotency_keys),
                prefixes=(IDEMPOTENT_PREFIX,),
                public_methods=PUBLIC_METHODS,
            ),
        ],
        max_workers=settings.grpc_threads,
        reflection=settings.grpc_reflection,
    )


def main() -> None:
    start_process("invoicing")
    settings = Settings.from_env()
    outbox = new_outbox()  # one per process: its relay wakes after the commits of both servicers
    database = open_database(settings)
    servicer = open_invoicing(settings, database, outbox=outbox)
    server, port = build(settings, settings.address, database, servicer, open_payments(settings, database, outbox))
    # Persists "overdue" for invoices whose due date has passed; reads derive it in between.
    overdue = Periodic("overdue invoices", settings.overdue_interval_seconds, servicer.invoicing.mark_overdue)
    workers: list[Worker] = [overdue.start()]
    if servicer.emails.worker:  # delivers the queued invoice emails
        workers.append(servicer.emails.worker.start())
    metrics.watch(
        "portal_emails_waiting",
        f"Invoice emails queued for delivery (counted up to {metrics.QUEUE_COUNT_LIMIT})",
        lambda: emails_waiting(database, metrics.QUEUE_COUNT_LIMIT),
    )
    workers.append(expired_keys_purge(settings.database_url, idempotency_keys).start())
    workers.append(start_relay(settings, "invoicing", outbox))
    serve_forever(server, "invoicing", port, workers)
