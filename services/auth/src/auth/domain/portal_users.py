"""Portal users: the customers of an organization who sign in with Google or Microsoft."""
import dataclasses
import re

from portal_common.errors import Conflict, InvalidArgument

OAUTH_PROVIDERS = ("google", "microsoft")
FRONTEND_USER = "frontend_user"
ACTIVE = "active"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def clean_sign_in(email: str, name: str, provider: str, oauth_id: str) -> tuple[str, str, str, str]:
    """Validated (email, display name, provider, oauth id), each error naming its field."""
    email = email.strip()
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise InvalidArgument(f"email is not a valid email address: {email!r}", field="email")
    if provider not in OAUTH_PROVIDERS:
        raise InvalidArgument(f"oauthProvider must be one of {', '.join(OAUTH_PROVIDERS)}; got {provider!r}",
                              field="oauthProvider")
    oauth_id = oauth_id.strip()
    if not oauth_id or len(oauth_id) > 200:
        raise InvalidArgument("oauthId is required (at most 200 characters)", field="oauthId")
    name = name.strip()
    if len(name) > 200:
        raise InvalidArgument("name must be at most 200 characters", field="name")
    return email, name, provider, oauth_id


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
