"""Invoice emails: the API's use cases (list, remind) and their delivery.

Delivery: a worker thread in each replica of the service claims due emails from the outbox
(adapters/outbox.py) for a while, and for each builds the message from the stored invoice and the
queue row (the PDF rendered as the invoice reads then, within the renderer's bounds) and hands it
to the transport (SMTP, or .eml files). A temporary failure is retried on the domain's schedule, a
permanent one fails the email at once. The worker wakes as soon as this process queued an email
and otherwise looks again when the next one falls due (at least every POLL_SECONDS, for the emails
that other replicas queued).
"""

import dataclasses
import logging
import random
import threading
import time
from email.message import EmailMessage
from typing import Callable, ContextManager, Protocol

from invoicing.domain.email import FAILED, QUEUED, REMINDER, DeliveryFailed, OutboundEmail, check_remindable
from invoicing.domain.model import Invoice
from invoicing.service_layer.email_queue import EmailQueue
from invoicing.service_layer.invoices import InvoicingUnitOfWork, _found
from invoicing.service_layer.renders import InvoicePdfs
from portal_common.clock import now_ms
from portal_common.domain_errors import InvalidArgument, Unavailable
from portal_common.principal import Principal
from portal_common.validation import clean_email

log = logging.getLogger(__name__)

BATCH = 20  # emails one worker claims at a time
# How long a claim holds: beyond the worst case of a batch (each message's SMTP exchange is bounded
# by the transport's timeouts); a worker stops taking messages of its batch after half of it.
CLAIM_MS = 10 * 60_000
POLL_SECONDS = 30.0
RENDERER_BUSY_MS = 1000  # how soon an email whose PDF could not be rendered (renderer busy) is tried again


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    id: str  # the outbox entry's
    sender: str  # the envelope's
    recipient: str
    message: EmailMessage


class MailSession(Protocol):
    def send(self, outgoing: OutgoingMessage) -> None:
        """Delivers one message, or raises DeliveryFailed."""


class MailTransport(Protocol):
    """Where messages go (adapters/smtp.py, adapters/mail_files.py): a session sends several
    messages (over one SMTP connection where it can)."""

    def session(self) -> ContextManager[MailSession]: ...


# Builds the message of an email (adapters/mail_message.py): (invoice, email, PDF) → message.
ComposeMessage = Callable[[Invoice, OutboundEmail, bytes], OutgoingMessage]


class InvoiceEmails:
    """The use cases of GET and POST /invoices/{id}/emails (API keys only: server.py), and the
    `worker` that delivers the emails (started by the service's main; None where nothing delivers
    them, as in tests of the use cases)."""

    def __init__(
        self,
        uow: Callable[..., InvoicingUnitOfWork],
        queue: EmailQueue,
        worker: "EmailWorker | None" = None,
        clock: Callable[[], int] = now_ms,
    ):
        self._uow = uow
        self._queue = queue
        self.worker = worker
        self._clock = clock

    def emails(self, principal: Principal, invoice_id: str) -> list[OutboundEmail]:
        with self._uow(read_only=True) as uow:
            _found(uow.invoices.get(principal.organization_id, invoice_id), invoice_id)
            return uow.emails.of_invoice(principal.organization_id, invoice_id)

    def remind(self, principal: Principal, invoice_id: str, to: str | None) -> OutboundEmail:
        """Emails the invoice again, to `to` or to where it was sent."""
        recipient = clean_email(to, "to") if to and to.strip() else None
        with self._uow() as uow:
            invoice = _found(uow.invoices.get(principal.organization_id, invoice_id), invoice_id)
            now = self._clock()
            check_remindable(invoice, now, len(uow.emails.of_invoice(principal.organization_id, invoice_id)))
            recipient = recipient or invoice.sent_to or invoice.bill_to.email
            if not recipient:
                raise InvalidArgument("to is required: the invoice was sent to no email address", field="to")
            email = self._queue.add(uow.emails, invoice, recipient, REMINDER, now)
            uow.commit()
        self._queue.queued()
        return email


class EmailSender:
    """Delivers the due emails of the outbox, a batch at a time, as worker `worker` (a name unique
    among the replicas running at once and the same across restarts of one: server.py)."""

    def __init__(
        self,
        uow: Callable[..., InvoicingUnitOfWork],
        pdfs: InvoicePdfs,
        compose: ComposeMessage,
        transport: MailTransport,
        worker: str,
        retry_scale: float,
        clock: Callable[[], int] = now_ms,
        spread: Callable[[], float] = random.random,
        batch: int = BATCH,
    ):
        self._uow = uow
        self._pdfs = pdfs
        self._compose = compose
        self._transport = transport
        self.worker = worker
        self._retry_scale = retry_scale
        self._clock = clock
        self._spread = spread
        self.batch = batch

    @property
    def destination(self) -> str:
        return str(self._transport)

    def release_own(self) -> int:
        """Takes back at once the emails this worker held when its process died."""
        with self._uow() as uow:
            released = uow.emails.release(self.worker, self._clock())
            uow.commit()
        return released

    def deliver_due(self, keep_going: Callable[[], bool] = lambda: True) -> int:
        """Delivers (or tries to) one batch of due emails; how many were claimed."""
        with self._uow() as uow:
            now = self._clock()
            claimed = uow.emails.claim(self.worker, now, now + CLAIM_MS, self.batch)
            uow.commit()
        if not claimed:
            return 0
        stop_at = time.monotonic() + CLAIM_MS / 2000
        with self._transport.session() as session:
            for email in claimed:
                if keep_going() and time.monotonic() < stop_at:
                    self._attempt(session, email, keep_going)
                else:  # let go of the rest: due at once, for any worker
                    email.next_attempt_at = self._clock()
                self._save(email)
        return len(claimed)

    def _attempt(self, session: MailSession, email: OutboundEmail, keep_going: Callable[[], bool]) -> None:
        try:
            self._deliver(session, email, keep_going)
        except Exception as error:  # a bug or the database: logged, and retried as a temporary failure
            log.exception("email %s: delivery failed unexpectedly", email.id)
            failure = DeliveryFailed(f"internal error ({type(error).__name__}); see the service's log", temporary=True)
            email.attempt_failed(failure, self._clock(), self._retry_scale, self._spread())

    def _deliver(self, session: MailSession, email: OutboundEmail, keep_going: Callable[[], bool]) -> None:
        with self._uow(read_only=True) as uow:
            invoice = _found(uow.invoices.get(email.organization_id, email.invoice_id), email.invoice_id)
        invoice.status = invoice.status_at(self._clock())  # the PDF shows the invoice as it reads now
        try:
            pdf = self._pdfs.pdf(email.organization_id, invoice, keep_going)
        except Unavailable as busy:  # the renderer is busy or restarting: not a failed attempt
            log.info("email %s waits for the PDF renderer: %s", email.id, busy.message)
            email.next_attempt_at = self._clock() + RENDERER_BUSY_MS
            return
        try:
            session.send(self._compose(invoice, email, pdf))
        except DeliveryFailed as failure:
            email.attempt_failed(failure, self._clock(), self._retry_scale, self._spread())
            log.warning(
                "email %s to %s: attempt %d failed (%s): %s",
                email.id,
                email.to,
                email.attempts,
                "will retry" if email.status == QUEUED else email.status,
                failure.reply,
            )
        else:
            email.delivered(self._clock())

    def _save(self, email: OutboundEmail) -> None:
        with self._uow() as uow:
            saved = uow.emails.save(email, self.worker)
            invoice = uow.invoices.get(email.organization_id, email.invoice_id) if email.status == FAILED else None
            if saved and invoice is not None:
                uow.events.add("invoice.email_failed", email.organization_id, invoice, email=email)
            uow.commit()
        if not saved:
            log.warning("email %s: the claim expired before its outcome was saved", email.id)

    def seconds_until_due(self, at_most: float) -> float:
        with self._uow(read_only=True) as uow:
            due = uow.emails.next_due()
        return at_most if due is None else min(at_most, max(0.0, (due - self._clock()) / 1000))


class EmailWorker:
    """Runs an EmailSender on a daemon thread: at once when `pending` is set (an email was queued in
    this process), else when the next email falls due, at least every `poll_seconds`."""

    def __init__(self, sender: EmailSender, pending: threading.Event, poll_seconds: float = POLL_SECONDS):
        self._sender = sender
        self._pending = pending
        self._poll = poll_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invoice emails", daemon=True)

    def start(self) -> "EmailWorker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._pending.set()
        self._thread.join()

    def _run(self) -> None:
        log.info("invoice emails go to %s (worker %s)", self._sender.destination, self._sender.worker)
        try:
            released = self._sender.release_own()
            if released:
                log.info("took back %d emails held by %s before it restarted", released, self._sender.worker)
        except Exception:
            log.exception("could not take back the emails held before a restart; their claims will expire")
        while not self._stopped.is_set():
            self._pending.clear()  # before looking: an email queued from here on wakes the wait below
            try:
                if self._sender.deliver_due(lambda: not self._stopped.is_set()) == self._sender.batch:
                    continue  # a full batch: more may be due
                wait = self._sender.seconds_until_due(self._poll)
            except Exception:
                log.exception("delivering invoice emails failed; trying again in %s s", self._poll)
                wait = self._poll
            self._pending.wait(wait)
