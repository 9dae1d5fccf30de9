"""Signing secrets at rest: AES-256-GCM under the key PORTAL_SECRETS_KEY gives, or one generated
once into the data directory when it is unset (as the internal credential is: `make run`). Every
service that keeps secrets reads the same key (invoicing's payment connections, the events
service's webhook endpoints).

A webhook's signing secret must be readable to compute HMACs, so it cannot be hashed like a token;
it is encrypted instead, bound to its record's id (the associated data), so that a sealed secret
copied onto another row does not open.
"""

import base64
import binascii
import os
import pathlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal_common import settings

KEY_ENV = "PORTAL_SECRETS_KEY"
KEY_FILE = "secrets-key"
_FORMAT = b"\x01"  # the layout below: format, 12-byte nonce, ciphertext and tag


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_key(text: str) -> bytes:
    """A key as PORTAL_SECRETS_KEY writes it: URL-safe base64 of 32 bytes (padding optional)."""
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SystemExit(
            f"{KEY_ENV} must be the URL-safe base64 of 32 random bytes, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return key


def secrets_key(data_dir: pathlib.Path | None = None) -> bytes:
    """PORTAL_SECRETS_KEY, or the key generated into the data directory on the first start."""
    if os.environ.get(KEY_ENV):
        return decode_key(os.environ[KEY_ENV])
    directory = data_dir or settings.data_dir()
    path = directory / KEY_FILE
    if not path.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        written = directory / f".{KEY_FILE}.{os.getpid()}"
        with open(os.open(written, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(encode_key(os.urandom(32)))
        try:
            os.link(written, path)  # whole or not at all; a concurrent first start keeps its own
        except FileExistsError:
            pass
        finally:
            written.unlink()
    return decode_key(path.read_text())


class SecretBox:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def seal(self, secret: str, bound_to: str) -> bytes:
        nonce = os.urandom(12)
        return _FORMAT + nonce + self._aead.encrypt(nonce, secret.encode(), bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str:
        if sealed[:1] != _FORMAT:
            raise ValueError("unknown format of a sealed secret")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], bound_to.encode()).decode()
        except InvalidTag:
            raise ValueError(
                f"the secret of {bound_to} does not open with this {KEY_ENV}: was the key changed?"
            ) from None
