"""A real SMTP server for the email tests (aiosmtpd on a free local port) that keeps what it
receives, refuses chosen recipients for good (550) or for a while (421), and can be stopped and
started again on the same port."""

import email
import email.policy
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from portal_stack.testing import free_port


class Mailbox:
    """The aiosmtpd handler: every message accepted, parsed back; `refuse` maps a recipient to the
    reply that refuses it, `defer` to how many times it is answered 421 before it is accepted."""

    def __init__(self):
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: dict[str, str] = {}
        self.defer: dict[str, int] = {}
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            if address in self.refuse:
                return self.refuse[address]
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                return "421 4.7.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.received.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def with_id(self, message_id: str) -> list[EmailMessage]:
        with self._lock:
            return [message for message in self.received if message["Message-ID"] == message_id]


class SmtpServer:
    def __init__(self, **controller_options):
        self.port = free_port()
        self.mailbox = Mailbox()
        self._options = controller_options
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **self._options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, message_id: str, timeout: float = 60) -> EmailMessage:
        """The message with this Message-ID, once it arrived (exactly once)."""
        deadline = time.monotonic() + timeout
        while not (found := self.mailbox.with_id(message_id)):
            assert time.monotonic() < deadline, f"{message_id} did not arrive within {timeout} s"
            time.sleep(0.05)
        assert len(found) == 1, f"{message_id} arrived {len(found)} times"
        return found[0]
