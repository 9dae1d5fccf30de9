"""Delivery without a mail server (PORTAL_SMTP_URL unset, the `make run` default): each message
is written as `<email id>.eml` in the mail directory ($PORTAL_DATA_DIR/mail), exactly the bytes an
SMTP server would have received, so a user sees what would be sent. Email ids sort by time; the
files are the service user's only (they carry invoices)."""

import contextlib
import email.policy
import os
import pathlib
from typing import Iterator

from invoicing.domain.email import DeliveryFailed
from invoicing.service_layer.email import OutgoingMessage


class MailDirectory:
    def __init__(self, path: pathlib.Path):
        self.path = path

    def __str__(self) -> str:
        return f".eml files in {self.path}"

    @contextlib.contextmanager
    def session(self) -> Iterator["MailDirectory"]:
        yield self

    def send(self, outgoing: OutgoingMessage) -> None:
        """Written whole or not at all: to a temporary name, then renamed (a rewrite of the same
        email replaces the file)."""
        final = self.path / f"{outgoing.id}.eml"
        partial = self.path / f".{outgoing.id}.eml.partial"
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                out.write(outgoing.message.as_bytes(policy=email.policy.SMTP))
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, final)
            directory = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a crash
            finally:
                os.close(directory)
        except OSError as error:
            raise DeliveryFailed(f"cannot write {final}: {error}", temporary=True) from None
