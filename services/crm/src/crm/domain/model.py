"""CRM entities and their rules. Plain Python: no I/O, no frameworks."""

import dataclasses
import json
import re

from crm.domain.commands import ContactChanges, ContactDetails, OrganizationDetails
from portal_common.domain_errors import InvalidArgument
from portal_common.json_values import check_free_form
from portal_common.validation import MAX_NAME, check_choice, clean_email, clean_text

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
            raise InvalidArgument(f"{field}[{index}] must be at most {MAX_TAG} characters", field=f"{field}[{index}]")
        if tag and tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidArgument(f"{field} may hold at most {MAX_TAGS} tags", field=field)
    return cleaned


def check_custom_fields(value: dict, field: str = "custom_fields") -> dict:
    """Free-form JSON, bounded so that a contact stays a small record that can always be printed
    again (the gateway cannot print JSON nested too deeply) with its numbers exact."""
    check_free_form(value, field)
    if len(json.dumps(value)) > MAX_CUSTOM_FIELDS_BYTES:
        raise InvalidArgument(f"{field} must be at most {MAX_CUSTOM_FIELDS_BYTES} bytes as JSON", field=field)
    return value


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

    def grant_portal_access(self, access: str) -> None:
        if access == ORGANIZATION_ACCESS and not self.crm_organization_id:
            raise InvalidArgument(
                "portal_access can be organization only for a contact of a CRM organization", field="portal_access"
            )
        self.portal_access = access

    def apply(self, changes: ContactChanges) -> None:
        """A partial update: each given value is checked, then set. Whether a new CRM organization is
        one of the tenant's, and whether a new email is free, the use case checks."""
        values = {name: _checked_change(name, getattr(changes, name)) for name in changes.given}
        if "crm_organization_id" in values:
            self.move_to(values.pop("crm_organization_id"))
        if "portal_access" in values:
            self.grant_portal_access(values.pop("portal_access"))
        for name, value in values.items():
            setattr(self, name, value)

    def merge(self, details: ContactDetails) -> None:
        """An upsert's cleaned details: given fields overwrite; tags and custom fields are merged into
        what the contact has."""
        for name in (
            "first_name",
            "last_name",
            "phone",
            "company",
            "job_title",
            "subtype",
            "source",
            "source_ref",
            "notes",
        ):
            value = getattr(details, name)
            if value is not None:
                setattr(self, name, value)
        self.email = details.email
        self.tags = merge_tags(self.tags, details.tags)
        if details.custom_fields:
            self.custom_fields = check_custom_fields(
                {**self.custom_fields, **details.custom_fields}, details.path("custom_fields")
            )

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

    FILLABLE = (
        "website",
        "industry",
        "street",
        "city",
        "state",
        "postal_code",
        "country",
        "tax_id",
        "billing_email",
        "phone",
    )

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


# What a PATCH checks: attributes that cannot be cleared (null), the ones chosen from a list, and
# what clearing the others leaves.
_NOT_NULL = ("email", "subtype", "status", "source", "portal_access")
_CHOICES = {"subtype": SUBTYPES, "status": STATUSES, "portal_access": PORTAL_ACCESS}


def _cleared(name: str):
    return {"first_name": "", "last_name": "", "tags": [], "custom_fields": {}}.get(name)


def _checked_change(name: str, value):
    if value is None:
        if name in _NOT_NULL:
            raise InvalidArgument(f"{name} cannot be null", field=name)
        return _cleared(name)
    if name == "tags":
        return clean_tags(value, name)
    if name == "custom_fields":
        return check_custom_fields(value, name)
    if name == "email":
        return clean_email(value, name)
    if name in _CHOICES:
        return check_choice(value.strip(), _CHOICES[name], name)
    if name == "crm_organization_id":
        return value
    text = clean_text(value, name, MAX_TEXT if name == "notes" else MAX_NAME)
    if name == "source" and not text:
        raise InvalidArgument("source cannot be empty", field=name)
    return _cleared(name) if text is None else text


def clean_details(details: ContactDetails) -> ContactDetails:
    """An upsert's contact details, checked and trimmed; errors name fields where they were sent."""
    path = details.path
    if not details.email.strip():
        raise InvalidArgument(f"{path('email')} is required", field=path("email"))
    email = clean_email(details.email, path("email"))
    return dataclasses.replace(
        details,
        first_name=clean_text(details.first_name, path("first_name")),
        last_name=clean_text(details.last_name, path("last_name")),
        phone=clean_text(details.phone, path("phone")),
        company=clean_text(details.company, path("company")),
        job_title=clean_text(details.job_title, path("job_title")),
        source=clean_text(details.source, path("source")),
        source_ref=clean_text(details.source_ref, path("source_ref")),
        email=email,
        notes=clean_text(details.notes, path("notes"), MAX_TEXT),
        tags=clean_tags(details.tags, path("tags")),
        custom_fields=None
        if details.custom_fields is None
        else check_custom_fields(details.custom_fields, path("custom_fields")),
        subtype=None if details.subtype is None else check_choice(details.subtype.strip(), SUBTYPES, path("subtype")),
    )


def clean_organization(details: OrganizationDetails) -> OrganizationDetails:
    path = details.path
    billing_email = details.billing_email
    cleaned = dataclasses.replace(
        details,
        name=clean_text(details.name, path("name")),
        website=clean_text(details.website, path("website")),
        industry=clean_text(details.industry, path("industry")),
        street=clean_text(details.street, path("street")),
        city=clean_text(details.city, path("city")),
        state=clean_text(details.state, path("state")),
        postal_code=clean_text(details.postal_code, path("postal_code")),
        country=clean_text(details.country, path("country")),
        tax_id=clean_text(details.tax_id, path("tax_id")),
        phone=clean_text(details.phone, path("phone")),
        billing_email=clean_email(billing_email, path("billing_email"))
        if billing_email and billing_email.strip()
        else None,
    )
    if not cleaned.name and not website_key(cleaned.website):
        raise InvalidArgument(f"{path('name')} or {path('website')} is required", field=path("name"))
    return cleaned
