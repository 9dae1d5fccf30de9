"""Portal users: the customers of an organization who sign in with Google or Microsoft."""

import dataclasses

from portal_common.domain_errors import Conflict, InvalidArgument, PermissionDenied
from portal_common.validation import check_choice, clean_email, clean_text

OAUTH_PROVIDERS = ("google", "microsoft")
STATUSES = ("active", "disabled")
ACTIVE, DISABLED = STATUSES
# Live sessions a portal user may hold at once; a new sign-in past this ends the oldest.
MAX_LIVE_SESSIONS = 20


@dataclasses.dataclass(frozen=True)
class OAuthLogin:
    """What the frontend learnt from the OAuth provider when the user signed in there."""

    email: str
    name: str
    oauth_provider: str
    oauth_id: str


def clean_login(login: OAuthLogin) -> OAuthLogin:
    """The login with its values checked and trimmed, each error naming its field."""
    oauth_id = clean_text(login.oauth_id, "oauth_id")
    if not oauth_id:
        raise InvalidArgument("oauth_id is required", field="oauth_id")
    return OAuthLogin(
        email=clean_email(login.email, "email"),
        name=clean_text(login.name, "name") or "",
        oauth_provider=check_choice(login.oauth_provider, OAUTH_PROVIDERS, "oauth_provider"),
        oauth_id=oauth_id,
    )


@dataclasses.dataclass(frozen=True)
class ContactLink:
    """The CRM contact with a portal user's email, as the CRM had it at sign-in."""

    contact_id: str
    crm_organization_id: str | None
    active: bool = True


@dataclasses.dataclass(frozen=True)
class ContactAccess:
    """A portal user's contact as the CRM has it now."""

    active: bool
    crm_organization_id: str
    organization_access: bool


@dataclasses.dataclass(frozen=True)
class PortalUserChanges:
    """What an organization changes of a portal user. The status is the one thing it may change,
    so a change always names it; a wrong one is refused before the user is even looked up."""

    status: str

    def __post_init__(self):
        check_choice(self.status, STATUSES, "status")


@dataclasses.dataclass
class PortalUser:
    id: str
    organization_id: str
    email: str
    display_name: str
    oauth_provider: str
    oauth_id: str
    status: str = ACTIVE
    last_login: int = 0
    crm_contact_id: str | None = None
    crm_organization_id: str | None = None
    created_at: int = 0
    updated_at: int = 0

    @property
    def email_key(self) -> str:
        """Emails are unique within an organization whatever their case."""
        return self.email.lower()

    def sign_in(self, login: OAuthLogin, now: int) -> None:
        if self.status == DISABLED:
            raise PermissionDenied("this portal user has been disabled by the organization")
        self.email, self.oauth_provider, self.oauth_id = login.email, login.oauth_provider, login.oauth_id
        self.display_name = login.name or self.display_name or login.email
        self.last_login = self.updated_at = now

    def link_contact(self, link: ContactLink | None) -> None:
        self.crm_contact_id = link.contact_id if link else None
        self.crm_organization_id = link.crm_organization_id if link else None

    def apply(self, changes: PortalUserChanges, now: int) -> bool:
        """Applies the organization's changes; True when the user changed."""
        if changes.status == self.status:
            return False
        self.status, self.updated_at = changes.status, now
        return True


def login_owner(login: OAuthLogin, by_identity: PortalUser | None, by_email: PortalUser | None) -> PortalUser | None:
    """The user a login belongs to (None: a new user), given the user bound to its (provider,
    oauth id) identity and the user with its email.

    A user is its identities, never its email: a login whose identity is not bound yet cannot take
    over the user that already has this email (the "nOAuth" pattern), whatever the provider.
    Binding a second identity would need proof of the first, which this API never sees."""
    if by_identity:  # a known provider account: the same user, even if its email changed
        if by_email and by_email.id != by_identity.id:
            raise Conflict(f"{login.email} belongs to another portal user", field="email")
        return by_identity
    if by_email:
        raise Conflict(
            f"{login.email} is already bound to another sign-in identity (provider and account); "
            "sign in with that account",
            field="oauth_id",
        )
    return None


@dataclasses.dataclass(frozen=True)
class PortalSession:
    """A portal user's session; its token is shown once and stored only as a hash."""

    id: str
    user_id: str
    created_at: int
    expires_at: int
    # The API key whose sync-user call opened the session: revoking the key ends the session.
    api_key_id: str | None
    revoked_at: int | None = None


@dataclasses.dataclass(frozen=True)
class LiveSession:
    """A session that may be used now (neither ended nor expired, its user active, its API key not
    revoked), with what its user is linked to."""

    id: str
    user_id: str
    organization_id: str
    expires_at: int
    crm_contact_id: str | None
