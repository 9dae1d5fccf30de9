"""Projects and their rules. Plain Python: no I/O, no frameworks.

The checks take a value as it comes from JSON (a PATCH body holds any JSON type) and the name of
the field it came in, which every error names.
"""
import dataclasses
import datetime
import json
from decimal import Decimal

from portal_common.currencies import MAX_MINOR_UNITS, MINOR_DIGITS, check_currency, to_major
from portal_common.domain_errors import Conflict, InvalidArgument
from portal_common.json_values import check_free_form, number, whole_number
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
# 9999-12-31T23:59:59.999Z: dates are Unix milliseconds from 1970 to the end of year 9999.
MAX_DATE = 253_402_300_799_999
# The free-form keys of customProperties, as JSON, are bounded like the CRM's customFields.
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


def _whole(value, field: str, low: int, high: int, what: str) -> int:
    number(value, field)
    if value != int(value) or not low <= value <= high:
        raise InvalidArgument(f"{field} must be {what}, got {value!r}", field=field)
    return int(value)


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
        raise InvalidArgument(f"a new project starts as a draft, so {field} can only be {DRAFT!r}, got {status!r}; "
                              "move it along the workflow with PATCH afterwards", field=field)


def clean_priority(value, field: str) -> str:
    return check_choice(_not_null(_string(value, field), field).strip(), PRIORITIES, field)


def clean_progress(value, field: str) -> int:
    return _whole(_not_null(value, field), field, 0, 100, "a whole number from 0 to 100")


def clean_date(value, field: str) -> int | None:
    if value is None:
        return None
    return _whole(value, field, 0, MAX_DATE, "a Unix time in whole milliseconds (1970 to 9999)")


@dataclasses.dataclass(frozen=True)
class Budget:
    """An amount of money, exact: an integer number of the currency's minor unit (cents)."""
    minor_units: int
    currency: str

    @property
    def amount(self) -> Decimal:
        """In the currency's major unit (dollars), as the seed shows budgets."""
        return to_major(self.minor_units, self.currency)


_BUDGET_KEYS = ("amount", "amountInMinorUnits", "currency")


def clean_budget(value, field: str) -> Budget | None:
    """`{amount, currency}` as in the seed, or `{amountInMinorUnits, currency}`, which carries
    every amount exactly (a JSON number in major units past 15 digits may not), or both if they
    agree."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be an object with amount and currency", field=field)
    for key in value:
        if key not in _BUDGET_KEYS:
            raise InvalidArgument(f"unknown field {field}.{key}; a budget has {', '.join(_BUDGET_KEYS)}",
                                  field=f"{field}.{key}")
    currency_field, amount_field, minor_field = (f"{field}.{key}" for key in ("currency", "amount",
                                                                              "amountInMinorUnits"))
    if value.get("currency") is None:
        raise InvalidArgument(f"{currency_field} is required", field=currency_field)
    currency = check_currency(_string(value["currency"], currency_field), currency_field)
    amount, minor_units = value.get("amount"), value.get("amountInMinorUnits")
    if amount is None and minor_units is None:
        raise InvalidArgument(f"{amount_field} (or {minor_field}) is required", field=amount_field)
    if minor_units is not None:
        minor_units = whole_number(minor_units, minor_field, 0, MAX_MINOR_UNITS)
    if amount is not None:
        in_minor_units = _minor_units(amount, currency, amount_field)
        if minor_units is not None and minor_units != in_minor_units:
            raise InvalidArgument(f"{minor_field} {minor_units} and {amount_field} {value['amount']!r} differ; "
                                  "give one of them, or both with the same value", field=minor_field)
        minor_units = in_minor_units
    return Budget(minor_units, currency)


def _minor_units(amount, currency: str, field: str) -> int:
    """An amount in major units as a whole number of minor units, if it is one."""
    number(amount, field)
    if amount < 0:
        raise InvalidArgument(f"{field} must not be negative, got {amount!r}", field=field)
    # repr is the shortest decimal that reads back as the same double: the number the client wrote
    # whenever it has at most 15 significant digits.
    minor_units = Decimal(repr(amount)).scaleb(MINOR_DIGITS[currency])
    if minor_units != minor_units.to_integral_value():
        digits = MINOR_DIGITS[currency]
        allowed = f"at most {digits} decimal places" if digits else "no decimal places"
        raise InvalidArgument(f"{field} has {allowed} in {currency}, got {amount!r}", field=field)
    if minor_units > MAX_MINOR_UNITS:
        raise InvalidArgument(f"{field} must be at most {to_major(MAX_MINOR_UNITS, currency)} {currency} "
                              f"({MAX_MINOR_UNITS} minor units), got {amount!r}", field=field)
    return int(minor_units)


def merged_free_properties(current: dict, given: dict, field: str = "customProperties") -> dict:
    """The free-form keys of customProperties after a request set `given` (null removes a key):
    JSON that reads back exactly (see check_free_form) and, as a whole, at most
    MAX_FREE_PROPERTIES_BYTES."""
    check_free_form(given, field)
    merged = {key: value for key, value in {**current, **given}.items() if value is not None}
    if len(json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode()) > MAX_FREE_PROPERTIES_BYTES:
        raise InvalidArgument(f"the free-form keys of {field} must be at most {MAX_FREE_PROPERTIES_BYTES} bytes "
                              "as JSON", field=field)
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
    # The other keys of customProperties (the seed's Record<string, any>), as the client gave them.
    free_properties: dict = dataclasses.field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0

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
            raise Conflict(f"project {self.project_code} cannot change status from {self.status} to {status}; "
                           f"{after}", field="status")
        self.status = status

    def check_schedule(self, field: str = "customProperties.targetEndDate") -> None:
        """`field`: the date the request gave, which the error names."""
        if self.start_date is not None and self.target_end_date is not None and self.target_end_date < self.start_date:
            raise InvalidArgument(f"the target end date must not be before the start date ({field})", field=field)

    def check_deletable(self) -> None:
        if self.status != DRAFT:
            hint = "; archive it to cancel it" if CANCELLED in TRANSITIONS[self.status] else ""
            raise Conflict(f"only draft projects can be deleted; project {self.project_code} is {self.status}{hint}",
                           field="status")
