"""Bearer credentials: random, shown once, stored only as a hash, recognisable by a prefix.

API keys start with `pk_`, portal session tokens with `ps_`; both carry 256 random bits.
"""

import dataclasses
import secrets

from portal_common.credential_format import hash_credential

API_KEY_PREFIX, SESSION_PREFIX = "pk_", "ps_"
VISIBLE_LENGTH = 11  # the kind prefix and the first 8 characters of the secret


@dataclasses.dataclass(frozen=True)
class NewCredential:
    secret: str
    prefix: str
    hash: str


def generate_credential(kind_prefix: str) -> NewCredential:
    secret = kind_prefix + secrets.token_urlsafe(32)  # 43 characters
    return NewCredential(secret=secret, prefix=secret[:VISIBLE_LENGTH], hash=hash_credential(secret))
