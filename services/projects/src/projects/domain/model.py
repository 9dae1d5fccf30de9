"""Projects and their rules. Plain Python: no I/O, no frameworks.

The checks take a value as it comes from JSON (a PATCH body holds any JSON type) and the name of
the field it came in, which every error names.
"""
import dataclasses
import datetime
import math

from portal_common.errors import Conflict, InvalidArgument
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
# Budgets up to a trillion keep every cent exact in a double (2^53 is about 9e15).
MAX_BUDGET = 10**12
# 9999-12-31T23:59:59.999Z: dates are Unix milliseconds from 1970 to the end of year 9999.
MAX_DATE = 253_402_300_799_999

# ISO 4217 codes of the currencies in use (funds, precious metals and test codes left out).
CURRENCIES = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED
    VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
""".split())


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


def _number(value, field: str) -> float:
    """A finite JSON number (JSON true and false are not numbers, nor is the string "NaN")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgument(f"{field} must be a number", field=field)
    return value


def _whole(value, field: str, low: int, high: int, what: str) -> int:
    number = _number(value, field)
    if number != int(number) or not low <= number <= high:
        raise InvalidArgument(f"{field} must be {what}, got {value!r}", field=field)
    return int(number)


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
    amount: float
    currency: str


def clean_budget(value, field: str) -> Budget | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be an object with amount and currency", field=field)
    unknown = sorted(set(value) - {"amount", "currency"})
    if unknown:
        raise InvalidArgument(f"unknown field {field}.{unknown[0]}; a budget has amount and currency",
                              field=f"{field}.{unknown[0]}")
    amount_field, currency_field = f"{field}.amount", f"{field}.currency"
    if value.get("amount") is None:
        raise InvalidArgument(f"{amount_field} is required", field=amount_field)
    amount = _number(value["amount"], amount_field)
    if not 0 <= amount <= MAX_BUDGET:
        raise InvalidArgument(f"{amount_field} must be between 0 and {MAX_BUDGET:,}, got {amount!r}",
                              field=amount_field)
    currency = (_string(value.get("currency"), currency_field) or "").strip().upper()
    if not currency:
        raise InvalidArgument(f"{currency_field} is required", field=currency_field)
    if currency not in CURRENCIES:
        raise InvalidArgument(f"{currency_field} must be an ISO 4217 currency code such as USD or EUR, got "
                              f"{value['currency']!r}", field=currency_field)
    return Budget(float(amount), currency)


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

    def check_schedule(self) -> None:
        if self.start_date is not None and self.target_end_date is not None and self.target_end_date < self.start_date:
            raise InvalidArgument("customProperties.targetEndDate must not be before customProperties.startDate",
                                  field="customProperties.targetEndDate")

    def check_deletable(self) -> None:
        if self.status != DRAFT:
            hint = "; archive it to cancel it" if CANCELLED in TRANSITIONS[self.status] else ""
            raise Conflict(f"only draft projects can be deleted; project {self.project_code} is {self.status}{hint}",
                           field="status")
