"""Who calls: the principal a bearer credential resolves to. Standard library only, so that use
cases may take it."""

import dataclasses

API_KEY, PORTAL_USER = "api_key", "portal_user"


@dataclasses.dataclass(frozen=True)
class Principal:
    kind: str
    organization_id: str
    credential_id: str = ""
    portal_user_id: str = ""
    crm_contact_id: str = ""
    # A portal user's: the CRM organization whose records it may see, "" for none (see auth.proto).
    crm_organization_id: str = ""
    expires_at: int = 0

    @property
    def is_portal_user(self) -> bool:
        return self.kind == PORTAL_USER
