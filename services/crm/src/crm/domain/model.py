"""CRM entities and their rules. Plain Python: no I/O, no frameworks."""
import dataclasses
import json
import math
import re

from portal_common.domain_errors import InvalidArgument
from portal_common.json_values import check_free_form

SUBTYPES = ("lead", "customer", "prospect")
STATUSES = ("active", "inactive")
ACTIVE, INACTIVE = STATUSES
# What a contact's portal user sees: what is billed to the contact, or also its CRM organization's.
PORTAL_ACCESS = ("contact", "organization")
CONTACT_ACCESS, ORGANIZATION_ACCESS = PORTAL_ACCESS
MAX_TEXT = 10_000
MAX_TAGS = 100
MAX_TAG = 64
MAX_CUSTOM_FIELDS_BYTES = 8192
MAX_EVENTS = 100
MAX_TIMESTAMP_MS = 253_402_300_799_999  # the last millisecond of the year 9999


def email_key(email: str) -> str:
    """What makes two emails the same contact: trimmed and case-insensitive."""
    return email.strip().lower()


def clean_tags(tags, field: str = "tags") -> list[str]:
    cleaned = []
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            raise InvalidArgument(f"{field}[{index}] must be a string", field=f"{field}[{index}]")
        tag = tag.strip()
        if len(tag) > MAX_TAG:
            raise InvalidArgument(f"{field}[{index}] must be at most {MAX_TAG} characters",
                                  field=f"{field}[{index}]")
        if tag and tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidArgument(f"{field} may hold at most {MAX_TAGS} tags", field=field)
    return cleaned


def check_custom_fields(value, field: str = "customFields") -> dict:
    """Free-form JSON, bounded so that a contact stays a small record that can always be printed
    again (the gateway cannot print JSON nested too deeply) with its numbers exact."""
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be an object", field=field)
    check_free_form(value, field)
    if len(json.dumps(value)) > MAX_CUSTOM_FIELDS_BYTES:
        raise InvalidArgument(f"{field} must be at most {MAX_CUSTOM_FIELDS_BYTES} bytes as JSON", field=field)
    return value


def check_timestamp(value: float, field: str) -> int:
    """Unix milliseconds, as JSON numbers carry them."""
    if not math.isfinite(value) or not 0 <= value <= MAX_TIMESTAMP_MS:
        raise InvalidArgument(f"{field} must be Unix time in milliseconds", field=field)
    return int(value)


def merge_tags(existing: list[str], added: list[str]) -> list[str]:
    return existing + [tag for tag in added if tag not in existing]


def website_key(website: str | None) -> str | None:
    """What makes two websites the same: no scheme, no www., no trailing slash, lowercase."""
    if not website:
        return None
    key = re.sub(r"^[a-z]+://", "", website.strip().lower())
    key = key.removeprefix("www.").rstrip("/")
    return key or None


@dataclasses.dataclass
class EventRegistration:
    event_id: str
    event_name: str
    event_date: int
    registered_at: int


@dataclasses.dataclass
class Contact:
    id: str
    organization_id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    company: str | None = None
    job_title: str | None = None
    subtype: str = "lead"
    status: str = ACTIVE
    source: str = "api"
    source_ref: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    notes: str | None = None
    custom_fields: dict = dataclasses.field(default_factory=dict)
    crm_organization_id: str | None = None
    events: list[EventRegistration] = dataclasses.field(default_factory=list)
    created_at: int = 0
    updated_at: int = 0
    portal_access: str = CONTACT_ACCESS

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def email_key(self) -> str:
        return email_key(self.email)

    @property
    def search_text(self) -> str:
        """What `search` matches: name, email and company, lowercased."""
        return " ".join(filter(None, (self.name, self.email, self.company))).lower()

    @property
    def count_key(self) -> tuple[str, str, str]:
        """The bucket of the per-organization counters that list totals are read from."""
        return self.status, self.subtype, self.source

    def move_to(self, crm_organization_id: str | None) -> None:
        """Links the contact to another CRM organization; a grant to the old one does not follow."""
        if crm_organization_id != self.crm_organization_id:
            self.crm_organization_id = crm_organization_id
            self.portal_access = CONTACT_ACCESS

    def grant_portal_access(self, access: str, field: str = "portalAccess") -> None:
        if access == ORGANIZATION_ACCESS and not self.crm_organization_id:
            raise InvalidArgument(f"{field} can be organization only for a contact of a CRM organization",
                                  field=field)
        self.portal_access = access

    def register_for_event(self, registration: EventRegistration) -> None:
        """Records a registration; registering again for the same event updates it. The newest
        MAX_EVENTS registrations are kept."""
        kept = [e for e in self.events if e.event_id != registration.event_id] + [registration]
        self.events = kept[-MAX_EVENTS:]


@dataclasses.dataclass
class CrmOrganization:
    id: str
    organization_id: str
    name: str
    website: str | None = None
    industry: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    tax_id: str | None = None
    billing_email: str | None = None
    phone: str | None = None
    created_at: int = 0
    updated_at: int = 0

    FILLABLE = ("website", "industry", "street", "city", "state", "postal_code", "country",
                "tax_id", "billing_email", "phone")

    @property
    def name_key(self) -> str:
        return self.name.strip().lower()

    @property
    def website_key(self) -> str | None:
        return website_key(self.website)

    def fill_in(self, details: dict[str, str | None]) -> bool:
        """Fills fields that are empty from `details`; never overwrites. True if anything changed."""
        changed = False
        for field in self.FILLABLE:
            if getattr(self, field) is None and details.get(field):
                setattr(self, field, details[field])
                changed = True
        return changed
