"""What a bearer credential looks like, and the hash it is stored and looked up by. Standard
library only: the auth service's domain generates credentials with it."""

import hashlib
import re

# An API key (pk_) or a portal session token (ps_): 32 random bytes, URL-safe base64.
CREDENTIAL_PATTERN = re.compile(r"p[ks]_[A-Za-z0-9_-]{43}")


def hash_credential(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()
