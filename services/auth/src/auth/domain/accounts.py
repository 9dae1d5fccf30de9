"""Organizations, the tenants of the portal, and the API keys through which they call it."""

import dataclasses
from typing import Mapping

from portal_common.domain_errors import InvalidArgument
from portal_common.validation import MAX_NAME, clean_email, clean_text

DEMO_ORGANIZATION_NAME = "Demo Organization"
# "Last used" is kept to the minute: recording every use would make each lookup a write.
LAST_USED_PRECISION_MS = 60_000


@dataclasses.dataclass(frozen=True)
class PostalAddress:
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


ADDRESS_FIELDS = tuple(field.name for field in dataclasses.fields(PostalAddress))
# The profile's optional text fields; email is checked as an email address, the others by length.
PROFILE_FIELDS = ("legal_name", "email", "phone", "website", "tax_id")


@dataclasses.dataclass(frozen=True)
class ProfileChanges:
    """A partial update of an organization's profile, as the client gave it: attribute paths
    (`legal_name`, `address.city`, or `address` for the whole address) to values, None clearing an
    optional attribute; attributes not named stay as they are."""

    values: Mapping[str, str | None] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Organization:
    """A tenant of the portal and its profile: who issues its invoices."""

    id: str
    name: str
    created_at: int
    updated_at: int
    legal_name: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    tax_id: str | None = None
    address: PostalAddress = PostalAddress()

    def apply(self, changes: ProfileChanges, now: int) -> None:
        """Checks and applies the changes, all or none; updatedAt moves when anything was given."""
        updated: dict[str, str | None] = {}
        address = dict(dataclasses.asdict(self.address))
        for path, value in changes.values.items():
            if path == "name":
                if value is None:
                    raise InvalidArgument("name cannot be null", field="name")
                updated["name"] = clean_organization_name(value)
            elif path == "email":
                updated["email"] = clean_email(value, "email") if value and value.strip() else None
            elif path in PROFILE_FIELDS:
                updated[path] = clean_text(value, path)
            elif path == "address":
                if value is not None:
                    raise InvalidArgument("address must be an object or null", field="address")
                address = {name: None for name in ADDRESS_FIELDS}
            elif path.startswith("address.") and path.removeprefix("address.") in ADDRESS_FIELDS:
                address[path.removeprefix("address.")] = clean_text(value, path)
            else:
                raise InvalidArgument(f"unknown field {path}", field=path)
        for name, value in updated.items():
            setattr(self, name, value)
        self.address = PostalAddress(**address)
        if changes.values:
            self.updated_at = max(now, self.updated_at + 1)  # a change always moves updatedAt


def clean_organization_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidArgument(f"name must be 1 to {MAX_NAME} characters", field="name")
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
