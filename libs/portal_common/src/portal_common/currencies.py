"""ISO 4217 currencies and their minor units: the one table every service uses.

Money is an integer number of the currency's minor unit (cents for USD, yen for JPY, fils for KWD),
at most MAX_MINOR_UNITS, so that it stays exact as a JSON number in every client.
"""

from decimal import Decimal

from portal_common.domain_errors import InvalidArgument

MAX_MINOR_UNITS = 2**53 - 1

# Circulating ISO 4217 currencies (funds, precious metals and test codes left out) and the digits
# of their minor unit: 2 unless listed otherwise.
_DIGITS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}
_TWO_DIGITS = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD
CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD
HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD
MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON
RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD
TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG
""".split()
MINOR_DIGITS: dict[str, int] = {**dict.fromkeys(_TWO_DIGITS, 2), **_DIGITS}


def check_currency(raw, field: str = "currency") -> str:
    """An ISO 4217 code as given (any case, surrounding blanks ignored), upper-cased."""
    code = raw.strip().upper() if isinstance(raw, str) else ""
    if code not in MINOR_DIGITS:
        raise InvalidArgument(
            f"{field} must be an ISO 4217 currency code such as USD or EUR; got {raw!r}"[:300], field=field
        )
    return code


def check_minor_units(value: int, field: str, low: int = 0) -> int:
    """An amount in minor units within [low, MAX_MINOR_UNITS]."""
    if not low <= value <= MAX_MINOR_UNITS:
        raise InvalidArgument(
            f"{field} must be between {low} and {MAX_MINOR_UNITS} minor units, got {value}", field=field
        )
    return value


def to_major(minor_units: int, currency: str) -> Decimal:
    """12345 USD cents → Decimal('123.45'); exact."""
    return Decimal(minor_units).scaleb(-MINOR_DIGITS[currency])


def format_money(minor_units: int, currency: str) -> str:
    """`USD 1,070.00`, `JPY 1,070`, `BHD 1.070`: the amount in the currency's own minor unit."""
    digits = MINOR_DIGITS[currency]
    sign = "-" if minor_units < 0 else ""
    major, minor = divmod(abs(minor_units), 10**digits)
    return f"{currency} {sign}{major:,}" + (f".{minor:0{digits}d}" if digits else "")
