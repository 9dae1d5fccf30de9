"""Portal users: the customers of an organization who sign in with Google or Microsoft."""
import dataclasses

from portal_common.errors import Conflict, InvalidArgument
from portal_common.validation import check_choice, clean_email, clean_text

OAUTH_PROVIDERS = ("google", "microsoft")
FRONTEND_USER = "frontend_user"
ACTIVE = "active"


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


def check_identity(bound_oauth_id: str | None, provider: str, oauth_id: str) -> None:
    """An email bound to a provider account stays bound to it: another account is refused."""
    if bound_oauth_id is not None and bound_oauth_id != oauth_id:
        raise Conflict(f"this email is already bound to another {provider} account", field="oauthId")
