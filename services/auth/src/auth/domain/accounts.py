"""Organizations, the tenants of the portal, and the API keys through which they call it."""

import dataclasses

from portal_common.domain_errors import InvalidArgument
from portal_common.validation import MAX_NAME

DEMO_ORGANIZATION_NAME = "Demo Organization"
# "Last used" is kept to the minute: recording every use would make each lookup a write.
LAST_USED_PRECISION_MS = 60_000


@dataclasses.dataclass(frozen=True)
class Organization:
    id: str
    name: str
    created_at: int


def clean_organization_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidArgument(f"organization name must be 1 to {MAX_NAME} characters", field="name")
    return name


@dataclasses.dataclass
class ApiKey:
    """An organization's API key as it is kept: its secret is shown once and stored only as a hash."""

    id: str
    organization_id: str
    prefix: str
    created_at: int
    last_used_at: int | None = None
    revoked_at: int | None = None

    def record_use(self, now: int) -> bool:
        """Notes a use at `now`, to the minute; True when that changed what is kept."""
        if self.last_used_at is not None and now - self.last_used_at < LAST_USED_PRECISION_MS:
            return False
        self.last_used_at = now
        return True

    def revoke(self, now: int) -> None:
        """Revoking twice keeps the first time: the key stopped working then."""
        self.revoked_at = self.revoked_at or now
