"""Delivery over SMTP, as PORTAL_SMTP_URL configures it (docs/email.md):

- `smtp://[user:password@]host[:port]` (port 25 by default): STARTTLS whenever the server offers
  it; `?starttls=required` refuses to send without it.
- `smtps://[user:password@]host[:port]` (port 465 by default): TLS from the first byte.

Certificates are checked against the system's CAs, or against PORTAL_SMTP_CA_FILE's. Credentials
are only ever sent over TLS, and never logged: the server is named by `scheme://host:port`.

A session keeps one connection for the messages of a batch; after a failure it connects again for
the next message. Every socket operation is bounded by TIMEOUT_SECONDS.
"""

import contextlib
import dataclasses
import smtplib
import socket
import ssl
import urllib.parse
from typing import Iterator

from invoicing.domain.email import DeliveryFailed
from invoicing.service_layer.email import OutgoingMessage

TIMEOUT_SECONDS = 30.0
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


@dataclasses.dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    starttls_required: bool = False

    def __str__(self) -> str:  # what logs and errors show: never the credentials
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """PORTAL_SMTP_URL read; SystemExit naming what is wrong (never echoing the password)."""
    problem = "PORTAL_SMTP_URL must look like smtp://[user:password@]host:port or smtps://..."
    parts = urllib.parse.urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise SystemExit(f"{problem}: its port is not a number from 0 to 65535") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.fragment:
        raise SystemExit(f"{problem} (got scheme {parts.scheme!r}, host {parts.hostname!r})")
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    starttls = query.pop("starttls", [])
    if query or starttls not in ([], ["required"]) or (starttls and parts.scheme == "smtps"):
        raise SystemExit(f"{problem}: the only option it takes is ?starttls=required, with smtp://")
    if (parts.username is None) != (parts.password is None):
        raise SystemExit(f"{problem}: give both a user and a password, or neither")
    return SmtpServer(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        user=urllib.parse.unquote(parts.username) if parts.username is not None else None,
        password=urllib.parse.unquote(parts.password) if parts.password is not None else None,
        starttls_required=bool(starttls),
    )


def is_temporary(code: int, about_the_message: bool) -> bool:
    """Whether an SMTP reply code is worth retrying. 4xx always is. A 5xx refusing the recipient or
    the message (RCPT, DATA, a size refused) is final; a 5xx anywhere else (greeting, STARTTLS,
    AUTH, the sender) is about this service's configuration of the relay, which an operator can fix
    while the email is retried."""
    return not (500 <= code < 600 and about_the_message)


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}".strip()


def failure(error: Exception, server: SmtpServer) -> DeliveryFailed:
    """What an exception of smtplib or the network means for the email."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return DeliveryFailed(_reply(code, text), is_temporary(code, about_the_message=True))
    if isinstance(error, smtplib.SMTPSenderRefused):  # 552: the message is too large
        return DeliveryFailed(
            _reply(error.smtp_code, error.smtp_error), is_temporary(error.smtp_code, error.smtp_code == 552)
        )
    if isinstance(error, smtplib.SMTPDataError):
        return DeliveryFailed(_reply(error.smtp_code, error.smtp_error), is_temporary(error.smtp_code, True))
    if isinstance(error, smtplib.SMTPNotSupportedError):  # e.g. an internationalized address without SMTPUTF8
        return DeliveryFailed(f"the SMTP server {server} cannot take this message: {error}", temporary=False)
    if isinstance(error, smtplib.SMTPResponseException):
        return DeliveryFailed(_reply(error.smtp_code, error.smtp_error), is_temporary(error.smtp_code, False))
    if isinstance(error, ssl.SSLError):
        return DeliveryFailed(f"TLS with the SMTP server {server} failed: {error}", temporary=True)
    if isinstance(error, (socket.timeout, TimeoutError)):
        return DeliveryFailed(f"the SMTP server {server} did not answer within {TIMEOUT_SECONDS:g} s", temporary=True)
    return DeliveryFailed(f"cannot reach the SMTP server {server}: {error or type(error).__name__}", temporary=True)


class SmtpTransport:
    def __init__(self, server: SmtpServer, ca_file: str = "", timeout: float = TIMEOUT_SECONDS):
        self.server = server
        self._tls = ssl.create_default_context(cafile=ca_file or None)
        self._timeout = timeout

    def __str__(self) -> str:
        return f"the SMTP server {self.server}"

    @contextlib.contextmanager
    def session(self) -> Iterator["SmtpSession"]:
        session = SmtpSession(self)
        try:
            yield session
        finally:
            session.close()

    def connect(self) -> smtplib.SMTP:
        server, local = self.server, socket.gethostname()  # for EHLO, without a DNS lookup
        connection = (
            smtplib.SMTP_SSL(server.host, server.port, local, timeout=self._timeout, context=self._tls)
            if server.scheme == "smtps"
            else smtplib.SMTP(server.host, server.port, local, timeout=self._timeout)
        )
        try:
            connection.ehlo_or_helo_if_needed()
            encrypted = server.scheme == "smtps"
            if not encrypted and connection.has_extn("starttls"):
                connection.starttls(context=self._tls)
                connection.ehlo()
                encrypted = True
            if not encrypted and (server.starttls_required or server.user is not None):
                why = (
                    "PORTAL_SMTP_URL requires it (starttls=required)"
                    if server.starttls_required
                    else ("credentials are only sent over TLS")
                )
                raise DeliveryFailed(f"the SMTP server {server} does not offer STARTTLS, and {why}", temporary=True)
            if server.user is not None and server.password is not None:
                connection.login(server.user, server.password)
        except BaseException:
            connection.close()
            raise
        return connection


class SmtpSession:
    def __init__(self, transport: SmtpTransport):
        self._transport = transport
        self._connection: smtplib.SMTP | None = None

    def send(self, outgoing: OutgoingMessage) -> None:
        try:
            if self._connection is None:
                self._connection = self._transport.connect()
            self._connection.send_message(outgoing.message, outgoing.sender, [outgoing.recipient])
        except DeliveryFailed:
            self.close()
            raise
        except (OSError, smtplib.SMTPException) as error:  # OSError: refused, timed out, TLS, reset
            self.close()
            raise failure(error, self._transport.server) from None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
