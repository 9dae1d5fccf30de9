"""The SMTP transport against a real SMTP server (aiosmtpd on a free local port): plain, STARTTLS
and implicit TLS with a self-signed certificate trusted through a CA file, credentials, refusals."""

import datetime
import email
import email.policy
import ipaddress
import ssl
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from invoicing.adapters.smtp import SmtpTransport, parse_smtp_url
from invoicing.domain.email import DeliveryFailed
from invoicing.service_layer.email import OutgoingMessage
from portal_stack.testing import free_port


class Inbox:
    def __init__(self):
        self.received: list[tuple[EmailMessage, bool]] = []  # (message, after STARTTLS)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 No such user"
        if address.startswith("later@"):
            return "451 4.3.0 Try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((message, session.ssl is not None))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: (its file, to trust; a server context using it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return str(cert_file), context


@pytest.fixture
def serve():
    """Starts an SMTP server with the given options; returns (its port, its inbox)."""
    started = []

    def start(**options) -> tuple[int, Inbox]:
        inbox, port = Inbox(), free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return port, inbox

    yield start
    for controller in started:
        controller.stop()


def outgoing(recipient: str = "zoe@example.com", number: int = 1) -> OutgoingMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "invoices@example.com", recipient, f"Invoice {number}"
    message["Message-ID"] = f"<eml_{number}@example.com>"
    message.set_content("Your invoice.")
    return OutgoingMessage(f"eml_{number}", "invoices@example.com", recipient, message)


def send(transport: SmtpTransport, *messages: OutgoingMessage) -> None:
    with transport.session() as session:
        for message in messages:
            session.send(message)


def test_plain_smtp_delivers_a_batch_in_one_session(serve):
    port, inbox = serve()
    send(SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}")), outgoing(number=1), outgoing(number=2))
    assert [(m["Subject"], tls) for m, tls in inbox.received] == [("Invoice 1", False), ("Invoice 2", False)]


def test_refusals_are_final_or_temporary_and_the_session_goes_on(serve):
    port, inbox = serve()
    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}"))
    with transport.session() as session:
        with pytest.raises(DeliveryFailed) as gone:
            session.send(outgoing("gone@example.com", 1))
        with pytest.raises(DeliveryFailed) as later:
            session.send(outgoing("later@example.com", 2))
        session.send(outgoing("zoe@example.com", 3))
    assert (gone.value.reply, gone.value.temporary) == ("550 5.1.1 No such user", False)
    assert (later.value.reply, later.value.temporary) == ("451 4.3.0 Try later", True)
    assert [m["Subject"] for m, _ in inbox.received] == ["Invoice 3"]


def test_a_server_that_is_not_there_is_a_temporary_failure():
    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), timeout=5)
    with pytest.raises(DeliveryFailed) as down:
        send(transport, outgoing())
    assert down.value.temporary and down.value.reply.startswith("cannot reach the SMTP server smtp://127.0.0.1:")


def test_starttls_required_against_a_server_without_it_fails_clearly_and_sends_nothing(serve):
    port, inbox = serve()
    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}?starttls=required"))
    with pytest.raises(DeliveryFailed) as refused:
        send(transport, outgoing())
    assert refused.value.temporary and refused.value.reply == (
        f"the SMTP server smtp://127.0.0.1:{port} does not offer STARTTLS, "
        "and PORTAL_SMTP_URL requires it (starttls=required)"
    )
    assert inbox.received == []


def test_credentials_are_never_sent_in_the_clear(serve):
    port, inbox = serve()
    with pytest.raises(DeliveryFailed, match="credentials are only sent over TLS"):
        send(SmtpTransport(parse_smtp_url(f"smtp://user:secret@127.0.0.1:{port}")), outgoing())


def test_starttls_with_a_trusted_self_signed_certificate_and_credentials(serve, certificate):
    ca_file, context = certificate
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    port, inbox = serve(tls_context=context, authenticator=authenticator, auth_required=True)
    send(SmtpTransport(parse_smtp_url(f"smtp://mailer:s3cret@127.0.0.1:{port}?starttls=required"), ca_file), outgoing())
    assert [(m["Subject"], tls) for m, tls in inbox.received] == [("Invoice 1", True)]
    assert logins == [(b"mailer", b"s3cret")]


def test_implicit_tls_checks_the_certificate(serve, certificate):
    ca_file, context = certificate
    port, inbox = serve(ssl_context=context)
    send(SmtpTransport(parse_smtp_url(f"smtps://127.0.0.1:{port}"), ca_file), outgoing())
    assert [m["Subject"] for m, _ in inbox.received] == ["Invoice 1"]  # this server speaks only TLS
    with pytest.raises(DeliveryFailed) as untrusted:  # the system's CAs do not know it
        send(SmtpTransport(parse_smtp_url(f"smtps://127.0.0.1:{port}")), outgoing())
    assert untrusted.value.temporary and "certificate verify failed" in untrusted.value.reply
