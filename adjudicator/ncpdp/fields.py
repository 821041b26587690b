"""Names of the D.0 segments and fields we read or write, and the M/I reject code
NCPDP.md gives each field read on a B1 (for messages, `decode`, and the mapping)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from adjudicator.ncpdp.codec import Segment

T = TypeVar("T")

SEGMENT_NAMES = {
    "01": "patient",
    "02": "pharmacy provider",
    "03": "prescriber",
    "04": "insurance",
    "05": "coordination of benefits/other payments",
    "07": "claim",
    "11": "pricing",
    "20": "response message",
    "21": "response status",
    "22": "response claim",
    "23": "response pricing",
    "25": "response insurance",
}

# Field ids are unique across the D.0 data dictionary, so one table serves every segment.
FIELD_NAMES = {
    # insurance (AM04), response insurance (AM25)
    "C2": "302-C2 cardholder id",
    "C1": "301-C1 group id",
    "C3": "303-C3 person code",
    "C6": "306-C6 patient relationship code",
    "CC": "312-CC cardholder first name",
    "CD": "313-CD cardholder last name",
    "2A": "359-2A medigap id",
    "2B": "360-2B Medicaid indicator",
    "FO": "524-FO plan id",
    # patient (AM01)
    "C4": "304-C4 date of birth",
    "C5": "305-C5 patient gender code",
    "CA": "310-CA patient first name",
    "CB": "311-CB patient last name",
    # claim (AM07), response claim (AM22)
    "EM": "455-EM prescription/service reference number qualifier",
    "D2": "402-D2 prescription/service reference number",
    "D3": "403-D3 fill number",
    "E1": "436-E1 product/service id qualifier",
    "D7": "407-D7 product/service id",
    "E7": "442-E7 quantity dispensed",
    "D5": "405-D5 days supply",
    "C8": "308-C8 other coverage code",
    "D8": "408-D8 dispense as written",
    "DE": "414-DE date prescription written",
    # pricing (AM11)
    "DU": "430-DU gross amount due",
    "D9": "409-D9 ingredient cost submitted",
    "DC": "412-DC dispensing fee submitted",
    "DQ": "426-DQ usual and customary charge",
    "DX": "433-DX patient paid amount submitted",
    # coordination of benefits (AM05)
    "4C": "337-4C coordination of benefits/other payments count",
    "5C": "338-5C other payer coverage type",
    "6C": "339-6C other payer id qualifier",
    "7C": "340-7C other payer id",
    "E8": "443-E8 other payer date",
    "HB": "341-HB other payer amount paid count",
    "HC": "342-HC other payer amount paid qualifier",
    "DV": "431-DV other payer amount paid",
    "5E": "471-5E other payer reject count",
    "6E": "472-6E other payer reject code",
    "NR": "353-NR other payer-patient responsibility amount count",
    "NP": "351-NP other payer-patient responsibility amount qualifier",
    "NQ": "352-NQ other payer-patient responsibility amount",
    # prescriber (AM03), pharmacy provider (AM02)
    "EZ": "466-EZ prescriber id qualifier",
    "DB": "411-DB prescriber id",
    "DR": "427-DR prescriber last name",
    "EY": "465-EY provider id qualifier",
    "E9": "444-E9 provider id",
    # response message (AM20), response status (AM21)
    "F4": "504-F4 message",
    "AN": "112-AN transaction response status",
    "F3": "503-F3 authorization number",
    "FA": "510-FA reject count",
    "FB": "511-FB reject code",
    "4F": "546-4F reject field occurrence indicator",
    "UF": "130-UF additional message information count",
    "UH": "132-UH additional message information qualifier",
    "FQ": "526-FQ additional message information",
    "UG": "131-UG additional message information continuity",
    "7F": "549-7F help desk phone number qualifier",
    "8F": "550-8F help desk phone number",
    # response pricing (AM23)
    "F5": "505-F5 patient pay amount",
    "F6": "506-F6 ingredient cost paid",
    "F7": "507-F7 dispensing fee paid",
    "F9": "509-F9 total amount paid",
    "FE": "514-FE remaining benefit amount",
    "FI": "518-FI amount of copay",
    "FK": "520-FK amount exceeding periodic benefit maximum",
}

HEADER_NAMES = {
    "bin": "101-A1 BIN number",
    "version": "102-A2 version/release number",
    "transaction_code": "103-A3 transaction code",
    "pcn": "104-A4 processor control number",
    "count": "109-A9 transaction count",
    "status": "501-F1 header response status",
    "qualifier": "202-B2 service provider id qualifier",
    "provider_id": "201-B1 service provider id",
    "date_of_service": "401-D1 date of service",
    "software": "110-AK software vendor/certification id",
}

# NCPDP.md's B1 table: the reject code of a field that is missing or invalid.
MISSING_OR_INVALID = {
    "C2": "07",
    "C1": "06",
    "C4": "09",
    "D2": "16",
    "D3": "17",
    "D7": "21",
    "E7": "E7",
    "D5": "19",
    "C8": "13",
    "DU": "DU",
    "4C": "4C",
    "7C": "7C",
    "6E": "6E",
    "NQ": "NQ",
    "DB": "25",
}


def field_error(field_id: str, problem: str) -> str:
    """`402-D2 prescription/service reference number (M/I 16): problem`."""
    name = FIELD_NAMES.get(field_id, field_id)
    code = MISSING_OR_INVALID.get(field_id)
    return f"{name} (M/I {code}): {problem}" if code else f"{name}: {problem}"


class FieldError(ValueError):
    """A field missing or unreadable, by name and with its M/I code when NCPDP.md gives one."""

    def __init__(self, field_id: str, problem: str) -> None:
        super().__init__(field_error(field_id, problem))
        self.field_id = field_id
        self.code = MISSING_OR_INVALID.get(field_id)


def read_field(segment: Segment | None, field_id: str, read: Callable[[str], T]) -> T:
    """The first copy of a required field, read by `read` (e.g. amounts.read_amount); a
    missing segment or field, or a ValueError of `read`, is a FieldError naming it."""
    value = None if segment is None else segment.first(field_id)
    if value is None:
        where = "" if segment is None else f" from AM{segment.id}"
        raise FieldError(field_id, f"missing{where}")
    return _read(field_id, value, read)


def read_optional_field(
    segment: Segment | None, field_id: str, read: Callable[[str], T]
) -> T | None:
    """As read_field, but an absent segment or field is None."""
    value = None if segment is None else segment.first(field_id)
    return None if value is None else _read(field_id, value, read)


def _read(field_id: str, value: str, read: Callable[[str], T]) -> T:
    try:
        return read(value)
    except ValueError as error:
        raise FieldError(field_id, f"{value!r} is unreadable ({error})") from None
