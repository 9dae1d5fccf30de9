"""Standard Webhooks signatures (standardwebhooks.com), the one implementation of the services:
invoicing verifies what payment providers send, the events service signs what it delivers.
Standard library only.

A secret is `whsec_` and the base64 of its key bytes; a signature is the base64 HMAC-SHA256 of
"{webhook-id}.{webhook-timestamp}.{body}" under that key, sent as `v1,<signature>` in the
`webhook-signature` header (several, space-separated, while two secrets are in use).
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A new secret: whsec_ and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" (the part after "v1,")."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_header(secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,<signature>` per secret, space-separated."""
    return " ".join(f"v1,{signature(secret, message_id, timestamp, body)}" for secret in secrets_in_use)
