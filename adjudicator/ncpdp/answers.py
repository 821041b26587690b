"""Writing D.0 answers (NCPDP.md): the response header, and each transaction group's
AM21 status, AM22 claim and AM23 pricing from the decision the JSON API answers, so the
two doors can never disagree on an amount."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from adjudicator.domain.money import format_money, parse_money
from adjudicator.domain.rules import NCPDP_MESSAGES
from adjudicator.ncpdp.amounts import write_amount
from adjudicator.ncpdp.codec import Group, Segment, Transmission, write_response
from adjudicator.ncpdp.messages import message_fields

# 112-AN
PAID, REJECTED, DUPLICATE = "P", "R", "D"
ACCEPTED, ALREADY_REVERSED = "A", "S"

NOT_PAID = "84"  # Claim Has Not Been Paid/Captured
NOT_PROCESSED = "85"  # Claim Not Processed
HELD_BACK_BY = ("annual_max", "cash_pay_per_rx_max")  # reasons whose limit 520-FK shows

# Plain reasons of the codes the D.0 door answers before any rule runs (the rules' own
# codes read domain.rules.NCPDP_MESSAGES).
FIELD_MESSAGES = {
    "01": "M/I Bin Number",
    "02": "M/I Version Number",
    "03": "M/I Transaction Code",
    "04": "M/I Processor Control Number",
    "05": "M/I Pharmacy Number",
    "06": "M/I Group ID",
    "07": "M/I Cardholder ID",
    "15": "M/I Date Of Service",
    "16": "M/I Prescription/Service Reference Number",
    "17": "M/I Fill Number",
    "19": "M/I Days Supply",
    "21": "M/I Product/Service ID",
    "25": "M/I Prescriber ID",
    "4C": "M/I Coordination Of Benefits/Other Payments Count",
    "65": "Patient Is Not Covered: a government payer (Medicaid or Medigap) is on the claim",
    "7C": "M/I Other Payer ID",
    "A9": "M/I Transaction Count",
    "DU": "M/I Gross Amount Due",
    "E7": "M/I Quantity Dispensed",
    "NQ": "M/I Other Payer-Patient Responsibility Amount",
}


def plain_reason(code: str) -> str:
    return FIELD_MESSAGES.get(code) or NCPDP_MESSAGES.get(code, code)


def response(request: Transmission, status: str, groups: Sequence[Group]) -> str:
    """The response transmission: D0, the request's code, the groups answered, 501-F1,
    and the provider id qualifier, id and date of service echoed as sent."""
    header = request.header
    return write_response(
        Transmission(
            {
                "version": "D0",
                "transaction_code": header["transaction_code"],
                "count": str(len(groups)),
                "status": status,
                "qualifier": header["qualifier"],
                "provider_id": header["provider_id"],
                "date_of_service": header["date_of_service"],
            },
            Group(),
            tuple(groups),
        )
    )


def header_rejected(request: Transmission, codes: Sequence[str]) -> str:
    return response(request, REJECTED, [Group((_status(REJECTED, codes=codes),))])


def rejected(codes: Sequence[str], rx_sent: str | None) -> Group:
    """A group answered R before any rule ran (its fields, or 84/85)."""
    return _group(_status(REJECTED, codes=codes), rx_sent)


def reversal(outcome: str, rx_sent: str | None, codes: Sequence[str] = ()) -> Group:
    return _group(_status(outcome, codes=codes), rx_sent)


def claim(decision: Mapping[str, Any], rx_sent: str | None, *, duplicate: bool) -> Group:
    """A B1/B3 group's answer from the claim's JSON decision (API.md's shape, as dumped)."""
    paid = decision["status"] in ("paid", "duplicate") or duplicate
    outcome = (DUPLICATE if duplicate else PAID) if paid else REJECTED
    codes = [reject["code"] for reject in decision["reject_codes"]]
    lines = list(decision["messages"]) if paid else []
    if decision["benefit"] is not None:
        lines.append(f"BENEFIT REMAINING {decision['benefit']['remaining']}")
    lines += [reject["message"] for reject in decision["reject_codes"]]
    status = _status(outcome, decision["authorization_number"] if paid else None, codes, lines)
    segments = [status, _claim_segment(rx_sent)]
    if paid:
        segments.append(_pricing(decision))
    return Group(tuple(segments))


def eligibility(
    codes: Sequence[tuple[str, str]], period: tuple[date, date] | None, remaining: int | None
) -> Group:
    """An E1 group: A, or R with the codes of rules 2 to 6 and their reasons."""
    lines = []
    if period is not None:
        lines.append(f"BENEFIT PERIOD {period[0]:%Y%m%d}-{period[1]:%Y%m%d}")
    if remaining is not None:
        lines.append(f"BENEFIT REMAINING {format_money(remaining)}")
    lines += [message for _, message in codes]
    outcome = REJECTED if codes else ACCEPTED
    return Group((_status(outcome, codes=[code for code, _ in codes], lines=lines),))


def _group(status: Segment, rx_sent: str | None) -> Group:
    return Group((status, _claim_segment(rx_sent)))


def _status(
    outcome: str,
    authorization: str | None = None,
    codes: Sequence[str] = (),
    lines: Sequence[str] | None = None,
) -> Segment:
    fields = [("AN", outcome)]
    if authorization:
        fields.append(("F3", authorization))
    if codes:
        fields.append(("FA", str(len(codes))))
        fields += [("FB", code) for code in codes]
    if lines is None:
        lines = [plain_reason(code) for code in codes]
    fields += message_fields(list(lines))
    return Segment("21", tuple(fields))


def _claim_segment(rx_sent: str | None) -> Segment:
    """AM22: 455-EM 1 and 402-D2 echoed as sent."""
    fields = [("EM", "1")]
    if rx_sent is not None:
        fields.append(("D2", rx_sent))
    return Segment("22", tuple(fields))


def _pricing(decision: Mapping[str, Any]) -> Segment:
    amounts = decision["amounts"]
    paid = parse_money(amounts["program_paid"])
    fields = [
        ("F5", write_amount(parse_money(amounts["patient_pay"]))),
        ("F6", write_amount(paid)),
        ("F9", write_amount(paid)),
    ]
    if decision["benefit"] is not None:
        fields.append(("FE", write_amount(parse_money(decision["benefit"]["remaining"]))))
    if any(reason["rule"] in HELD_BACK_BY for reason in decision["reasons"]):
        held = parse_money(amounts["eligible"]) - paid
        fields.append(("FK", write_amount(held)))
    return Segment("23", tuple(fields))
