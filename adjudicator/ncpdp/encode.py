"""A JSON claim request (API.md's POST /v1/claims body) as the D.0 B1 transmission
NCPDP.md's B1 table reads: for newcomers, tests and the benchmark, not for the service."""

from __future__ import annotations

from datetime import date
from typing import Any

from adjudicator.domain.money import parse_money
from adjudicator.ncpdp.amounts import write_amount, write_quantity
from adjudicator.ncpdp.codec import REQUEST_HEADER, Group, Segment, Transmission, write_request

NPI_QUALIFIER = "01"  # 202-B2
RX_QUALIFIER = "1"  # 455-EM: Rx billing
NDC_QUALIFIER = "03"  # 436-E1
BIN_QUALIFIER = "03"  # 339-6C: the other payer is named by its BIN
PRIMARY = "01"  # 338-5C: the first other payer is the primary
PATIENT_PAY = "06"  # 351-NP: patient pay amount
PRESCRIBER_NPI = "01"  # 466-EZ


def encode_claim(
    request: dict[str, Any],
    *,
    bin: str = "999999",  # 101-A1
    pcn: str = "IPSENCARES",
    transaction_code: str = "B1",
) -> str:
    """The transmission, or ValueError naming what D.0 cannot carry (a service line, an
    Rx number that is not 1 to 12 digits) or what the request lacks."""
    drug = _drug_line(request)
    cob = request.get("cob")
    header = {
        "bin": bin,
        "version": "D0",
        "transaction_code": transaction_code,
        "pcn": pcn,
        "count": "1",
        "qualifier": NPI_QUALIFIER,
        "provider_id": _text(request, "service_provider_id"),
        "date_of_service": _ccyymmdd(_text(request, "date_of_service"), "date_of_service"),
        "software": "",
    }
    for name, width in REQUEST_HEADER:
        if len(header[name]) > width:
            raise ValueError(f"{name} {header[name]!r}: the header holds {width} characters")
    transmission_level = [_insurance(request)]
    date_of_birth = (request.get("patient") or {}).get("date_of_birth")
    if date_of_birth:
        transmission_level.append(
            Segment("01", (("C4", _ccyymmdd(date_of_birth, "patient.date_of_birth")),))
        )
    # Within the group, D.0's segment order: claim, prescriber, COB, pricing.
    group = [_claim(request, drug, cob)]
    if request.get("prescriber_npi"):
        group.append(Segment("03", (("EZ", PRESCRIBER_NPI), ("DB", request["prescriber_npi"]))))
    if cob:
        other_payers = _other_payers(cob, drug)
        if other_payers:
            group.append(other_payers)
    group.append(Segment("11", (("DU", write_amount(_responsibility(drug))),)))
    transmission = Transmission(header, Group(tuple(transmission_level)), (Group(tuple(group)),))
    return write_request(transmission)


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if value is None or value == "":
        raise ValueError(f"{key} is required")
    return str(value)


def _ccyymmdd(value: str, key: str) -> str:
    try:
        return date.fromisoformat(value).strftime("%Y%m%d")
    except (TypeError, ValueError):
        raise ValueError(f"{key} {value!r} is not a date YYYY-MM-DD") from None


def _drug_line(request: dict[str, Any]) -> dict[str, Any]:
    lines = request.get("lines") or []
    for at, line in enumerate(lines):
        if line.get("kind") != "drug":
            raise ValueError(
                f"lines.{at} is a {line.get('kind')} line: D.0 claims have no service line"
                " (bill injection services through the JSON API)"
            )
    if len(lines) != 1:
        raise ValueError(f"a D.0 claim carries one drug line, this request has {len(lines)}")
    return dict(lines[0])


def _insurance(request: dict[str, Any]) -> Segment:
    fields = [("C2", _text(request, "cardholder_id"))]
    if request.get("group_id"):
        fields.append(("C1", request["group_id"]))
    return Segment("04", tuple(fields))


def _claim(request: dict[str, Any], drug: dict[str, Any], cob: dict[str, Any] | None) -> Segment:
    rx = _text(request, "rx_number")
    if not (rx.isascii() and rx.isdigit() and len(rx) <= 12):
        raise ValueError(
            f"rx_number {rx!r}: D.0's 402-D2 carries digits only (1 to 12); give the claim"
            " a digits-only rx_number"
        )
    fill = request.get("fill_number")
    if isinstance(fill, bool) or not isinstance(fill, int) or not 0 <= fill <= 99:
        raise ValueError(f"fill_number {fill!r}: a number from 0 to 99")
    fields = [
        ("EM", RX_QUALIFIER),
        ("D2", rx),
        ("D3", str(fill)),
        ("E1", NDC_QUALIFIER),
        ("D7", _text(drug, "code").replace("-", "")),
        ("E7", write_quantity(_text(drug, "quantity"))),
        ("D5", str(drug.get("days_supply", ""))),
    ]
    if cob:
        fields.append(("C8", str(cob.get("other_coverage_code", 1))))
    return Segment("07", tuple(fields))


def _responsibility(drug: dict[str, Any]) -> int:
    try:
        return parse_money(str(drug.get("patient_responsibility")))
    except ValueError:
        raise ValueError(
            f"lines.0.patient_responsibility {drug.get('patient_responsibility')!r}:"
            ' a decimal string with two places, e.g. "1500.00"'
        ) from None


def _other_payers(cob: dict[str, Any], drug: dict[str, Any]) -> Segment | None:
    """AM05 with the one other payer a JSON claim names, when it says anything: its BIN,
    its reject codes, or (code 8) the patient pay amount it left. The PCN has no place."""
    fields: list[tuple[str, str]] = [("5C", PRIMARY)]
    if cob.get("other_payer_bin"):
        fields += [("6C", BIN_QUALIFIER), ("7C", cob["other_payer_bin"])]
    codes = list(cob.get("other_payer_reject_codes") or [])
    if codes:
        fields.append(("5E", str(len(codes))))
        fields += [("6E", code) for code in codes]
    if cob.get("other_coverage_code") == 8:
        amount = write_amount(_responsibility(drug))
        fields += [("NR", "1"), ("NP", PATIENT_PAY), ("NQ", amount)]
    if len(fields) == 1:
        return None
    return Segment("05", (("4C", "1"), *fields))
