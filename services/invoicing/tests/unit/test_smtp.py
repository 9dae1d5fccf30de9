"""PORTAL_SMTP_URL, and what an SMTP reply or a network error means for an email."""

import smtplib
import socket
import ssl

import pytest

from invoicing.adapters.smtp import SmtpServer, failure, is_temporary, parse_smtp_url

SERVER = SmtpServer("smtp", "mail.example.com", 25)


def test_urls_of_both_schemes_with_their_default_ports_and_options():
    assert parse_smtp_url("smtp://mail.example.com") == SERVER
    assert parse_smtp_url("smtps://mail.example.com") == SmtpServer("smtps", "mail.example.com", 465)
    required = parse_smtp_url("smtp://relay:2525?starttls=required")
    assert (required.port, required.starttls_required) == (2525, True)
    with_credentials = parse_smtp_url("smtp://postmaster%40example.com:p%40ss:w%3Ard@relay:587")
    assert (with_credentials.user, with_credentials.password) == ("postmaster@example.com", "p@ss:w:rd")


def test_the_password_is_never_shown():
    server = parse_smtp_url("smtps://user:s3cret@relay:465")
    assert "s3cret" not in str(server) and "s3cret" not in repr(server) and str(server) == "smtps://relay:465"


@pytest.mark.parametrize(
    "url",
    [
        "http://relay:25",
        "smtp://",
        "smtp://relay:notaport",
        "smtp://relay:99999",
        "smtp://relay:25/path",
        "smtp://relay:25?starttls=maybe",
        "smtp://relay:25?tls=on",
        "smtps://relay:465?starttls=required",
        "smtp://user@relay:25",
        "smtp://user:hunter2@relay:notaport",
        "ftp://user:hunter2@relay:25",
    ],
)
def test_bad_urls_stop_the_service_with_a_reason_and_without_the_password(url):
    with pytest.raises(SystemExit) as stopped:
        parse_smtp_url(url)
    assert "PORTAL_SMTP_URL must look like" in str(stopped.value) and "hunter2" not in str(stopped.value)


def test_4xx_is_temporary_and_5xx_final_only_about_the_recipient_or_message():
    assert is_temporary(421, about_the_message=True) and is_temporary(450, about_the_message=False)
    assert not is_temporary(550, about_the_message=True) and not is_temporary(554, about_the_message=True)
    assert is_temporary(535, about_the_message=False)  # authentication: the relay's configuration


@pytest.mark.parametrize(
    "error, reply, temporary",
    [
        (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"5.1.1 No such user")}), "550 5.1.1 No such user", False),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (421, b"4.7.0 Try again later")}), "421 4.7.0 Try again later", True),
        (smtplib.SMTPDataError(554, b"5.7.1 Spam"), "554 5.7.1 Spam", False),
        (smtplib.SMTPDataError(451, b"4.3.0 Local error"), "451 4.3.0 Local error", True),
        (smtplib.SMTPSenderRefused(552, b"5.3.4 Too big", "x@y.z"), "552 5.3.4 Too big", False),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "x@y.z"), "553 5.7.1 Sender not allowed", True),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), "535 5.7.8 Bad credentials", True),
        (smtplib.SMTPConnectError(554, b"No service"), "554 No service", True),
    ],
)
def test_smtp_replies(error, reply, temporary):
    found = failure(error, SERVER)
    assert (found.reply, found.temporary) == (reply, temporary)


def test_network_and_tls_errors_are_temporary_and_name_the_server():
    refused = failure(ConnectionRefusedError(111, "Connection refused"), SERVER)
    assert refused.temporary and refused.reply.startswith("cannot reach the SMTP server smtp://mail.example.com:25")
    timed_out = failure(socket.timeout("timed out"), SERVER)
    assert timed_out.temporary and "did not answer within 30 s" in timed_out.reply
    tls = failure(ssl.SSLCertVerificationError("certificate verify failed"), SERVER)
    assert tls.temporary and tls.reply.startswith("TLS with the SMTP server smtp://mail.example.com:25 failed")
    disconnected = failure(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), SERVER)
    assert disconnected.temporary
    unsupported = failure(smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server"), SERVER)
    assert not unsupported.temporary
