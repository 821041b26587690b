"""Reading a D.0 request (NCPDP.md): the header's reject codes, and a B1/B3 transaction
group as the JSON claim request it becomes, or the M/I codes of its missing or invalid
fields. Pure: the caller brings the routing, what is registered, and today."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from adjudicator.domain.money import format_money
from adjudicator.domain.terms import Routing
from adjudicator.ncpdp.amounts import read_amount, read_quantity
from adjudicator.ncpdp.codec import Group, Segment, Transmission
from schemas.fields import npi_is_valid

TRANSACTION_CODES = ("B1", "B2", "B3", "E1")
MAX_GROUPS = 4
MAX_FIELD_REJECTS = 5
NPI_QUALIFIER = "01"
MAX_AMOUNT = 99_999_999  # cents: 999999.99

# The M/I codes of a B1 group, in the order of NCPDP.md's table (answers keep this order).
FIELD_ORDER = (
    *("07", "06", "65", "09", "16", "17", "21", "E7", "19", "13", "DU", "4C", "7C", "6E"),
    *("NQ", "25"),
)

_DIGITS = re.compile(r"[0-9]+")
_RX = re.compile(r"[0-9]{1,12}")
_NDC = re.compile(r"[0-9]{11}")
_BIN = re.compile(r"[0-9]{6}")
_REJECT = re.compile(r"[A-Za-z0-9]{1,3}")


def read_date(text: str | None) -> date | None:
    """A CCYYMMDD date, or None when absent or unreadable."""
    if text is None or len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def header_npi(transmission: Transmission) -> str:
    return transmission.header["provider_id"].strip()


def header_rejects(
    transmission: Transmission,
    routing: Routing,
    *,
    pharmacy_registered: bool,
    today: date,
) -> list[str]:
    """Every header code that applies, in NCPDP.md's order; empty when the header is good."""
    header = transmission.header
    code = header["transaction_code"]
    codes = []
    if header["version"] != "D0":
        codes.append("02")
    if code not in TRANSACTION_CODES:
        codes.append("03")
    if header["bin"] != routing.bin:
        codes.append("01")
    if header["pcn"].strip() != routing.pcn:
        codes.append("04")
    if not _count_agrees(header["count"], code, len(transmission.groups)):
        codes.append("A9")
    if header["qualifier"] != NPI_QUALIFIER or not pharmacy_registered:
        codes.append("05")
    served = read_date(header["date_of_service"])
    if served is None or served > today:
        codes.append("15")
    return codes


def _count_agrees(count: str, transaction_code: str, groups: int) -> bool:
    """1 to 4 (E1: 1), and as many as the GS separators that start the groups."""
    if not count.isdigit():
        return False
    allowed = 1 if transaction_code == "E1" else MAX_GROUPS
    return 1 <= int(count) <= allowed and int(count) == groups


# --- the claim a B1 or B3 transaction group becomes ---------------------------------


@dataclass(frozen=True)
class FieldRejects:
    """A group with missing or invalid fields: answered R with these codes, nothing stored."""

    codes: tuple[str, ...]


def _segment(transmission: Transmission, group: Group, segment_id: str) -> Segment | None:
    # AM04 and AM01 are transmission-level in D.0; a group's own copy is read when sent there.
    return group.segment(segment_id) or transmission.transmission.segment(segment_id)


def read_billing(
    transmission: Transmission, group: Group, routing: Routing
) -> dict[str, object] | FieldRejects:
    """The JSON claim request (API.md's POST /v1/claims body) a B1/B3 group carries."""
    codes: set[str] = set()
    insurance = _segment(transmission, group, "04") or Segment("04")
    patient = _segment(transmission, group, "01") or Segment("01")
    claim = group.segment("07") or Segment("07")
    pricing = group.segment("11") or Segment("11")
    prescriber = group.segment("03")

    cardholder = insurance.first("C2")
    if not cardholder or not cardholder.strip():
        codes.add("07")
    group_id = insurance.first("C1")
    if group_id is not None and group_id.strip() != routing.group_id:
        codes.add("06")
    if insurance.first("2B") is not None or insurance.first("2A") is not None:
        codes.add("65")  # a Medicaid indicator or Medigap id: a government payer
    birth_text = patient.first("C4")
    born = read_date(birth_text)
    if birth_text is not None and born is None:
        codes.add("09")
    rx = _rx_number(claim, codes)
    fill = _number(claim.first("D3"), 0, 99)
    if fill is None:
        codes.add("17")
    ndc = claim.first("D7")
    if claim.first("E1") != "03" or ndc is None or not _NDC.fullmatch(ndc):
        codes.add("21")
    quantity = _quantity(claim.first("E7"))
    if quantity is None:
        codes.add("E7")
    days = _number(claim.first("D5"), 1, 365)
    if days is None:
        codes.add("19")
    coverage_text = claim.first("C8")
    coverage = 1 if coverage_text is None else _number(coverage_text, 0, 99)
    if coverage is None:
        codes.add("13")
    payers = _other_payers(group.segment("05"), codes)
    owed = _patient_responsibility(coverage, pricing, payers, codes)
    prescriber_npi = _prescriber(prescriber, codes)
    if codes or group.malformed:
        # A part that is no segment or field: no code names it, so the answer names
        # the claim segment's fields as missing (decisions.md).
        found = [code for code in FIELD_ORDER if code in codes] or ["16"]
        return FieldRejects(tuple(found[:MAX_FIELD_REJECTS]))
    assert cardholder is not None  # checked above (07)
    request: dict[str, object] = {
        "transaction_code": "B1",
        # Read as E1 reads it, and as 301-C1 is: D.0 values may come padded with spaces.
        "cardholder_id": cardholder.strip(),
        "service_provider_id": header_npi(transmission),
        "rx_number": rx,
        "fill_number": fill,
        "date_of_service": _iso(read_date(transmission.header["date_of_service"])),
        "lines": [
            {
                "kind": "drug",
                "code": ndc,
                "quantity": quantity,
                "days_supply": days,
                "patient_responsibility": _money(owed),
            }
        ],
    }
    if group_id is not None:
        request["group_id"] = group_id.strip()
    if born is not None:
        request["patient"] = {"date_of_birth": born.isoformat()}
    if prescriber_npi is not None:
        request["prescriber_npi"] = prescriber_npi
    if coverage_text is not None:
        request["cob"] = _cob(coverage, payers)
    return request


def read_key(group: Group) -> tuple[str, int] | FieldRejects:
    """A B2's Rx number and fill number (16, 17 as in B1)."""
    codes: set[str] = set()
    claim = group.segment("07") or Segment("07")
    rx = _rx_number(claim, codes)
    fill = _number(claim.first("D3"), 0, 99)
    if fill is None:
        codes.add("17")
    if codes or group.malformed or rx is None:
        return FieldRejects(tuple(code for code in ("16", "17") if code in codes) or ("16",))
    return rx, fill  # type: ignore[return-value]  # fill is set when no code was added


def _rx_number(claim: Segment, codes: set[str]) -> str | None:
    """402-D2: 1 to 12 digits; the claim's Rx number is them without leading zeros."""
    text = claim.first("D2")
    if claim.first("EM") != "1" or text is None or not _RX.fullmatch(text):
        codes.add("16")
        return None
    return text.lstrip("0") or "0"


def _number(text: str | None, low: int, high: int) -> int | None:
    if text is None or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _quantity(text: str | None) -> str | None:
    """442-E7 in mL with three implied decimals, more than zero."""
    if text is None or not _DIGITS.fullmatch(text) or int(text) == 0 or len(text) > 10:
        return None
    return read_quantity(text)


def _amount(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return read_amount(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Payer:
    """One other payer of AM05, in segment order."""

    bin: str | None  # 340-7C when 339-6C is 03
    reject_codes: tuple[str, ...]
    amounts: tuple[tuple[str | None, int], ...]  # (351-NP qualifier, 352-NQ cents)


def _other_payers(cob: Segment | None, codes: set[str]) -> list[_Payer]:
    if cob is None:
        return []
    runs: list[list[tuple[str, str]]] = []
    for name, value in cob.fields:
        if name == "5C":  # each payer's fields start with its coverage type
            runs.append([])
        if runs:
            runs[-1].append((name, value))
    count = cob.first("4C")
    if count is None or not _DIGITS.fullmatch(count) or int(count) != len(runs):
        codes.add("4C")
    return [_payer(run, codes) for run in runs]


def _payer(fields: list[tuple[str, str]], codes: set[str]) -> _Payer:
    segment = Segment("05", tuple(fields))
    payer_bin = None
    qualifier, payer_id = segment.first("6C"), segment.first("7C")
    if qualifier == "03" and payer_id is not None:
        if _BIN.fullmatch(payer_id):
            payer_bin = payer_id
        else:
            codes.add("7C")
    rejects = tuple(segment.every("6E"))
    if any(not _REJECT.fullmatch(code) for code in rejects):
        codes.add("6E")
    amounts = []
    qualifier_of_next: str | None = None
    for name, value in fields:  # an NQ amount pairs with the NP qualifier before it
        if name == "NP":
            qualifier_of_next = value
        elif name == "NQ":
            cents = _amount(value)
            # Over 999999.99 it can be no claim's patient responsibility: the NQ is at fault
            # (else the schema refused the drug line's amount, answered as a 430-DU reject).
            if cents is None or not 0 <= cents <= MAX_AMOUNT:
                codes.add("NQ")
            else:
                amounts.append((qualifier_of_next, cents))
            qualifier_of_next = None
    return _Payer(payer_bin, rejects, tuple(amounts))


PATIENT_PAY_QUALIFIER = "06"  # 351-NP 06: patient pay amount


def _patient_responsibility(
    coverage: int | None, pricing: Segment, payers: list[_Payer], codes: set[str]
) -> int | None:
    """The drug line's patient responsibility, by other coverage code (NCPDP.md)."""
    if coverage == 8:
        for payer in payers:
            if payer.amounts:
                pay = [cents for qualifier, cents in payer.amounts if qualifier == "06"]
                return pay[0] if pay else sum(cents for _, cents in payer.amounts)
        codes.add("NQ")
        return None
    due = _amount(pricing.first("DU"))
    if due is None or not 0 <= due <= MAX_AMOUNT:
        codes.add("DU")
        return None
    return due


def _cob(coverage: int | None, payers: list[_Payer]) -> dict[str, object]:
    cob: dict[str, object] = {"other_coverage_code": coverage}
    if payers and payers[0].bin is not None:
        cob["other_payer_bin"] = payers[0].bin
    rejects = [code for payer in payers for code in payer.reject_codes][:MAX_FIELD_REJECTS]
    if rejects:
        cob["other_payer_reject_codes"] = rejects
    return cob


def _prescriber(segment: Segment | None, codes: set[str]) -> str | None:
    """411-DB when 466-EZ says it is an NPI; 25 when it is not a valid one."""
    if segment is None or segment.first("EZ") != "01" or segment.first("DB") is None:
        return None
    npi = segment.first("DB")
    if npi is None or not npi_is_valid(npi):
        codes.add("25")
        return None
    return npi


def _money(cents: int | None) -> str:
    assert cents is not None  # only read when no code was added
    return format_money(cents)


def _iso(day: date | None) -> str:
    assert day is not None  # the header's date was checked (15) before any group
    return day.isoformat()
