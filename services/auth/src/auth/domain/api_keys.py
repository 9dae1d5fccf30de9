"""API keys: random, shown once, stored only as a hash, recognisable by a visible prefix."""
import dataclasses
import secrets

from portal_common.auth import hash_api_key

PREFIX_LENGTH = 11  # "pk_" and the first 8 characters of the secret


@dataclasses.dataclass(frozen=True)
class NewApiKey:
    secret: str
    prefix: str
    key_hash: str


def generate_api_key() -> NewApiKey:
    secret = "pk_" + secrets.token_urlsafe(32)  # 256 random bits, 43 characters
    return NewApiKey(secret=secret, prefix=secret[:PREFIX_LENGTH], key_hash=hash_api_key(secret))
