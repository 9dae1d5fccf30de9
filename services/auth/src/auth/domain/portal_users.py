"""Portal users: the customers of an organization who sign in with Google or Microsoft."""
import dataclasses

from portal_common.domain_errors import Conflict, InvalidArgument, PermissionDenied
from portal_common.validation import check_choice, clean_email, clean_text

OAUTH_PROVIDERS = ("google", "microsoft")
FRONTEND_USER = "frontend_user"
STATUSES = ("active", "disabled")
ACTIVE, DISABLED = STATUSES
# Live sessions a portal user may hold at once; a new sign-in past this ends the oldest.
MAX_LIVE_SESSIONS = 20


def clean_sign_in(email: str, name: str, provider: str, oauth_id: str) -> tuple[str, str, str, str]:
    """Validated (email, display name, provider, oauth id), each error naming its field."""
    oauth_id = clean_text(oauth_id, "oauthId")
    if not oauth_id:
        raise InvalidArgument("oauthId is required", field="oauthId")
    return (clean_email(email, "email"), clean_text(name, "name") or "",
            check_choice(provider, OAUTH_PROVIDERS, "oauthProvider"), oauth_id)


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
        return self.email.lower()


def identity_conflict(email: str) -> Conflict:
    """A user is its (provider, oauthId) identities, never its email: a login whose identity is not
    bound yet cannot take over the user that already has this email (the "nOAuth" pattern), whatever
    the provider. Binding a second identity would need proof of the first, which this API never sees."""
    return Conflict(f"{email} is already bound to another sign-in identity (provider and account); "
                    "sign in with that account", field="oauthId")


def check_may_sign_in(user: PortalUser) -> None:
    if user.status == DISABLED:
        raise PermissionDenied("this portal user has been disabled by the organization")
