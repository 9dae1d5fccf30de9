"""Projects and their rules. Plain Python: no I/O, no frameworks.

The checks of single values take a value as it comes from JSON (a PATCH body holds any JSON type)
and the path it came at, which every error names. The rules of a whole project name its attributes
(`target_end_date`); the api layer renames those to where the client gave them.
"""

import dataclasses
import datetime
import json
from decimal import Decimal
from typing import Any

from portal_common.currencies import MAX_MINOR_UNITS, MINOR_DIGITS, to_major
from portal_common.domain_errors import Conflict, InvalidArgument
from portal_common.json_values import check_free_form, number
from portal_common.validation import MAX_NAME, check_choice, clean_text

SUBTYPES = ("client_project", "internal", "campaign", "product_development", "other")
PRIORITIES = ("low", "medium", "high", "critical")
STATUSES = ("draft", "planning", "active", "on_hold", "completed", "cancelled")
DRAFT, PLANNING, ACTIVE, ON_HOLD, COMPLETED, CANCELLED = STATUSES

# The status workflow: where a project may go from each status. Completed and cancelled are final.
TRANSITIONS = {
    DRAFT: (PLANNING, CANCELLED),
    PLANNING: (ACTIVE, CANCELLED),
    ACTIVE: (ON_HOLD, COMPLETED, CANCELLED),
    ON_HOLD: (ACTIVE, COMPLETED, CANCELLED),
    COMPLETED: (),
    CANCELLED: (),
}

DEFAULT_PRIORITY = "medium"
MAX_TEXT = 10_000
MAX_RICH_TEXT = 100_000
# The free-form properties, as JSON, are bounded like the free-form fields of CRM contacts.
MAX_FREE_PROPERTIES_BYTES = 8192


def project_code(year: int, number: int) -> str:
    """PRJ-2025-001: at least three digits, more once the year has more than 999 projects."""
    return f"PRJ-{year}-{number:03d}"


def code_year(timestamp_ms: int) -> int:
    """The calendar year (UTC) whose codes a project created at `timestamp_ms` takes."""
    return datetime.datetime.fromtimestamp(timestamp_ms / 1000, datetime.timezone.utc).year


# Checks of request values


def _string(value, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{field} must be a string", field=field)
    return value


def _not_null(value, field: str):
    if value is None:
        raise InvalidArgument(f"{field} cannot be null", field=field)
    return value


def clean_type(value, field: str) -> None:
    """`type` may be given, as in the seed's stored structure, but is always "project"."""
    check_choice(_not_null(_string(value, field), field), ("project",), field)


def clean_name(value, field: str = "name") -> str:
    name = clean_text(_string(value, field), field, MAX_NAME)
    if not name:
        raise InvalidArgument(f"{field} is required", field=field)
    return name


def clean_description(value, field: str) -> str | None:
    return clean_text(_string(value, field), field, MAX_TEXT)


def clean_rich_text(value, field: str) -> str | None:
    """Trimmed HTML, not yet sanitized; None when blank."""
    return clean_text(_string(value, field), field, MAX_RICH_TEXT)


def clean_reference(value, field: str) -> str | None:
    """The id of another service's record (checked there), None when blank."""
    return clean_text(_string(value, field), field)


def clean_subtype(value, field: str) -> str:
    return check_choice(_not_null(_string(value, field), field).strip(), SUBTYPES, field)


def clean_status(value, field: str) -> str:
    return check_choice(_not_null(_string(value, field), field).strip(), STATUSES, field)


def check_new_status(status: str, field: str) -> None:
    """A project starts as a draft; other statuses are reached along the workflow (PATCH)."""
    if status != DRAFT:
        raise InvalidArgument(
            f"a new project starts as a draft, so {field} can only be {DRAFT!r}, got {status!r}; "
            "move it along the workflow with PATCH afterwards",
            field=field,
        )


def clean_priority(value, field: str) -> str:
    return check_choice(_not_null(_string(value, field), field).strip(), PRIORITIES, field)


def clean_progress(value, field: str) -> int:
    number(_not_null(value, field), field)
    if value != int(value) or not 0 <= value <= 100:
        raise InvalidArgument(f"{field} must be a whole number from 0 to 100, got {value!r}", field=field)
    return int(value)


@dataclasses.dataclass(frozen=True)
class Budget:
    """An amount of money, exact: an integer number of the currency's minor unit (cents)."""

    minor_units: int
    currency: str

    @property
    def amount(self) -> Decimal:
        """In the currency's major unit (dollars), as the seed shows budgets."""
        return to_major(self.minor_units, self.currency)

    @classmethod
    def of_amount(cls, amount, currency: str, field: str) -> "Budget":
        """A budget given in major units (a JSON number), if that is a whole number of minor units."""
        number(amount, field)
        if amount < 0:
            raise InvalidArgument(f"{field} must not be negative, got {amount!r}", field=field)
        # repr is the shortest decimal that reads back as the same double: the number the client
        # wrote whenever it has at most 15 significant digits.
        minor_units = Decimal(repr(amount)).scaleb(MINOR_DIGITS[currency])
        if minor_units != minor_units.to_integral_value():
            digits = MINOR_DIGITS[currency]
            allowed = f"at most {digits} decimal places" if digits else "no decimal places"
            raise InvalidArgument(f"{field} has {allowed} in {currency}, got {amount!r}", field=field)
        if minor_units > MAX_MINOR_UNITS:
            raise InvalidArgument(
                f"{field} must be at most {to_major(MAX_MINOR_UNITS, currency)} {currency} "
                f"({MAX_MINOR_UNITS} minor units), got {amount!r}",
                field=field,
            )
        return cls(int(minor_units), currency)


def merged_free_properties(current: dict, given: dict, field: str = "free_properties") -> dict:
    """The free-form properties after a request set `given` (null removes a key):
    JSON that reads back exactly (see check_free_form) and, as a whole, at most
    MAX_FREE_PROPERTIES_BYTES."""
    check_free_form(given, field)
    merged = {key: value for key, value in {**current, **given}.items() if value is not None}
    if len(json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode()) > MAX_FREE_PROPERTIES_BYTES:
        raise InvalidArgument(
            f"the free-form keys of {field} must be at most {MAX_FREE_PROPERTIES_BYTES} bytes as JSON", field=field
        )
    return merged


@dataclasses.dataclass
class Project:
    id: str
    organization_id: str
    project_code: str
    subtype: str
    name: str
    created_by: str
    description: str | None = None
    status: str = DRAFT
    start_date: int | None = None
    target_end_date: int | None = None
    budget: Budget | None = None
    priority: str = DEFAULT_PRIORITY
    progress: int = 0
    client_org_id: str | None = None
    detailed_description: str | None = None
    # Properties the client named itself (the seed keeps them beside the known ones), as given.
    free_properties: dict = dataclasses.field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0

    @classmethod
    def new(
        cls, changes: "ProjectChanges", *, id: str, organization_id: str, project_code: str, created_by: str, now: int
    ) -> "Project":
        """A draft project as `changes` (checked by check_new) describe it."""
        project = cls(
            id=id,
            organization_id=organization_id,
            project_code=project_code,
            subtype=changes.subtype,
            name=changes.name,
            created_by=created_by,
            created_at=now,
        )
        project.apply(changes, now)
        return project

    def apply(self, changes: "ProjectChanges", now: int) -> None:
        """Sets what `changes` give; the status along the workflow. On an error the project is not
        saved (the use case does not commit), so it may be left half changed."""
        given = changes.given()
        status = given.pop("status", self.status)
        for attribute, value in given.items():
            setattr(self, attribute, value)
        self.free_properties = merged_free_properties(self.free_properties, changes.free_properties)
        self.change_status(status)
        # An inconsistent schedule is blamed on the date this request gave.
        self.check_schedule(
            "start_date" if changes.start_date is not UNSET and changes.target_end_date is UNSET else "target_end_date"
        )
        self.updated_at = now

    def archive(self, now: int) -> None:
        """Cancels the project; a cancelled project stays as it is (its updated_at too)."""
        if self.status != CANCELLED:
            self.change_status(CANCELLED)
            self.updated_at = now

    @property
    def search_text(self) -> str:
        """What `search` matches: name, project code and description, lowercased."""
        return " ".join(filter(None, (self.name, self.project_code, self.description))).lower()

    @property
    def count_key(self) -> tuple[str, str, str]:
        """The bucket of the per-organization counters that list totals are read from."""
        return self.status, self.subtype, self.priority

    def change_status(self, status: str) -> None:
        """Moves the project along the workflow; its current status again changes nothing."""
        if status == self.status:
            return
        if status not in TRANSITIONS[self.status]:
            allowed = TRANSITIONS[self.status]
            after = f"it can go to {', '.join(allowed)}" if allowed else f"{self.status} is final"
            raise Conflict(
                f"project {self.project_code} cannot change status from {self.status} to {status}; {after}",
                field="status",
            )
        self.status = status

    def check_schedule(self, field: str = "target_end_date") -> None:
        """`field`: the date the request gave, which the error names."""
        if self.start_date is not None and self.target_end_date is not None and self.target_end_date < self.start_date:
            raise InvalidArgument(f"the target end date must not be before the start date ({field})", field=field)

    def check_deletable(self) -> None:
        if self.status != DRAFT:
            hint = "; archive it to cancel it" if CANCELLED in TRANSITIONS[self.status] else ""
            raise Conflict(
                f"only draft projects can be deleted; project {self.project_code} is {self.status}{hint}",
                field="status",
            )


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# A field a request did not give (None is a value: it clears an optional field).
UNSET: Any = _Unset()


@dataclasses.dataclass(frozen=True)
class ProjectChanges:
    """What a create or a partial update sets, its values checked: each attribute given (UNSET when
    not), and the free-form properties to set (None removes one)."""

    name: str = UNSET
    description: str | None = UNSET
    subtype: str = UNSET
    status: str = UNSET
    start_date: int | None = UNSET
    target_end_date: int | None = UNSET
    budget: Budget | None = UNSET
    priority: str = UNSET
    progress: int = UNSET
    client_org_id: str | None = UNSET
    detailed_description: str | None = UNSET
    free_properties: dict = dataclasses.field(default_factory=dict)

    def given(self) -> dict[str, Any]:
        """The attributes given, free-form properties aside."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name != "free_properties" and getattr(self, field.name) is not UNSET
        }

    def check_new(self) -> None:
        """What a new project needs: a name, a subtype, the draft status, bounded free-form properties."""
        for required in ("name", "subtype"):
            if getattr(self, required) is UNSET:
                raise InvalidArgument(f"{required} is required", field=required)
        if self.status is not UNSET:
            check_new_status(self.status, "status")
        merged_free_properties({}, self.free_properties)
