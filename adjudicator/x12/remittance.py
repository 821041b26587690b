"""A remittance as an X12 835 (005010X221A1) interchange, pure: data in, text out.

Segments are built with pyx12's Segment (a library that writes X12: element and
composite placement, trailing empties dropped); the 835's structure and its balancing
are ours (PAYMENTS.md, docs/decisions.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from pyx12.segment import Segment

from adjudicator.domain.money import Cents, format_money

SEGMENT, ELEMENT, COMPONENT, REPETITION = "~", "*", ":", "^"
VERSION = "005010X221A1"
_UNSAFE = re.compile(r"[~*:^\x00-\x1f\x7f]")  # separators and controls never reach text


@dataclass(frozen=True)
class Payer:
    """The program as the 835's payer (1000A)."""

    name: str
    interchange_id: str  # ISA06 / GS02
    tax_id: str  # TRN03: "1" + the payer's 9-digit EIN
    address: str
    city: str
    state: str
    zip_code: str
    phone: str


@dataclass(frozen=True)
class ClaimPayment:
    """One CLP: a claim paid (status 2) or reversed (22), amounts signed."""

    patient_control: str  # CLP01: the pharmacy's Rx number and fill
    status: str  # "2" processed as secondary, "22" reversal of a previous payment
    charge: Cents  # CLP03: the patient responsibility the pharmacy billed
    paid: Cents  # CLP04
    patient_owes: Cents  # CLP05, and CAS*PR*3: what the patient pays
    claim_id: str  # CLP07: our claim id
    patient_last: str
    patient_first: str
    served: date


@dataclass(frozen=True)
class Remittance835:
    remittance_id: str
    control_number: int  # ISA13 / GS06: 1 to 999999999
    created: datetime
    payer: Payer
    payee_name: str
    payee_npi: str
    payment: Cents  # BPR02
    claims: tuple[ClaimPayment, ...]
    provider_adjustment: Cents  # PLB04 (FB): total - payment


def write_835(remittance: Remittance835) -> str:
    """The interchange: ISA/GS/ST ... SE/GE/IEA, one segment a line."""
    body = _transaction(remittance)
    control = f"{remittance.control_number:09d}"
    when = remittance.created
    envelope_head = [
        _isa(remittance, control),
        _segment("GS", "HP", remittance.payer.interchange_id, remittance.payee_npi,
                 f"{when:%Y%m%d}", f"{when:%H%M}", str(remittance.control_number), "X",
                 VERSION),
    ]  # fmt: skip
    st = [_segment("ST", "835", "0001")]  # ST03 is "not used" in X221A1
    se = [_segment("SE", str(len(body) + 2), "0001")]
    tail = [
        _segment("GE", "1", str(remittance.control_number)),
        _segment("IEA", "1", control),
    ]
    return "\n".join(envelope_head + st + body + se + tail) + "\n"


def _transaction(remittance: Remittance835) -> list[str]:
    payer, when = remittance.payer, remittance.created
    sending = remittance.payment > 0
    segments = [
        # I: remittance information with a payment made separately; H: nothing is sent.
        _segment("BPR", "I" if sending else "H", _money(remittance.payment), "C",
                 "CHK" if sending else "NON", *[""] * 11, f"{when:%Y%m%d}"),
        _segment("TRN", "1", remittance.remittance_id, payer.tax_id),
        _segment("DTM", "405", f"{when:%Y%m%d}"),
        _segment("N1", "PR", _text(payer.name)),
        _segment("N3", _text(payer.address)),
        _segment("N4", _text(payer.city), payer.state, payer.zip_code),
        _segment("PER", "BL", _text(payer.name), "TE", payer.phone),
        _segment("N1", "PE", _text(remittance.payee_name), "XX", remittance.payee_npi),
    ]  # fmt: skip
    if remittance.claims:
        segments.append(_segment("LX", "1"))
    for claim in remittance.claims:
        segments.append(
            _segment("CLP", _text(claim.patient_control), claim.status, _money(claim.charge),
                     _money(claim.paid), _money(claim.patient_owes), "ZZ", claim.claim_id)
        )  # fmt: skip
        if claim.charge != claim.paid:
            # The claim balances: charge - paid is what the patient owes (co-payment).
            segments.append(_segment("CAS", "PR", "3", _money(claim.charge - claim.paid)))
        segments += [
            _segment("NM1", "QC", "1", _text(claim.patient_last), _text(claim.patient_first)),
            _segment("DTM", "232", f"{claim.served:%Y%m%d}"),
        ]
    if remittance.provider_adjustment:
        segments.append(
            _segment("PLB", remittance.payee_npi, f"{when:%Y}1231",
                     f"FB{COMPONENT}{_text(remittance.remittance_id)}",
                     _money(remittance.provider_adjustment))
        )  # fmt: skip
    return segments


def _isa(remittance: Remittance835, control: str) -> str:
    when = remittance.created
    fields = [
        "00", " " * 10, "00", " " * 10,
        "ZZ", remittance.payer.interchange_id.ljust(15)[:15],
        "ZZ", remittance.payee_npi.ljust(15)[:15],
        f"{when:%y%m%d}", f"{when:%H%M}", REPETITION, "00501", control, "0", "P", COMPONENT,
    ]  # fmt: skip
    # ISA is fixed width, its last element the component separator itself: written as is.
    return ELEMENT.join(["ISA", *fields]) + SEGMENT


def _segment(segment_id: str, *elements: str) -> str:
    segment = Segment(segment_id, SEGMENT, ELEMENT, COMPONENT, REPETITION)
    for position, value in enumerate(elements, start=1):
        if value:
            segment.set(f"{segment_id}{position:02d}", value)
    return segment.format()


def _money(cents: Cents) -> str:
    return format_money(cents)


def _text(value: str) -> str:
    """Free text without the separators (a name with a `*` would break the document)."""
    return _UNSAFE.sub(" ", value).strip() or "UNKNOWN"
