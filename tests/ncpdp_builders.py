"""D.0 transmissions for tests, written with our codec: a B1/B3 of one INCRELEX fill,
a B2 and an E1, with keyword overrides for the fields a test cares about."""

from __future__ import annotations

from typing import Any

from adjudicator.ncpdp import codec
from adjudicator.ncpdp.amounts import read_amount, write_amount

NDC = "15054104005"


def header(code: str, npi: str, served: str, **overrides: str) -> dict[str, str]:
    fields = {
        "bin": "999999",
        "version": "D0",
        "transaction_code": code,
        "pcn": "IPSENCARES",
        "count": "1",
        "qualifier": "01",
        "provider_id": npi,
        "date_of_service": served,
        "software": "",
    }
    fields.update(overrides)
    return fields


def billing(
    cardholder: str,
    npi: str,
    *,
    code: str = "B1",
    served: str = "20240301",
    rx: str = "1001",
    fill: str = "0",
    owed: int = 150_000,
    payer_bin: str = "003858",
    coverage: str | None = "8",
    header_overrides: dict[str, str] | None = None,
    claim_extra: tuple[tuple[str, str], ...] = (),
    insurance_extra: tuple[tuple[str, str], ...] = (),
    birth: str | None = None,
) -> bytes:
    """A B1 (or B3) of one INCRELEX fill; `owed` cents the patient owes after the primary
    (sent as 352-NQ with code 8, else as 430-DU)."""
    insurance = (("C2", cardholder), ("C1", "IPSENCARES"), *insurance_extra)
    transmission = [codec.Segment("04", insurance)]
    if birth is not None:
        transmission.append(codec.Segment("01", (("C4", birth),)))
    claim = [
        ("EM", "1"), ("D2", rx), ("D3", fill), ("E1", "03"), ("D7", NDC),
        ("E7", "0000008000"), ("D5", "30"),
    ]  # fmt: skip
    if coverage is not None:
        claim.append(("C8", coverage))
    claim += list(claim_extra)
    group = [codec.Segment("07", tuple(claim)), codec.Segment("11", (("DU", write_amount(owed)),))]
    if coverage == "8":
        payer = (("4C", "1"), ("5C", "01"), ("6C", "03"), ("7C", payer_bin), ("NR", "1"))
        group.append(codec.Segment("05", (*payer, ("NP", "06"), ("NQ", write_amount(owed)))))
    return _write(code, npi, served, transmission, [group], header_overrides)


def reversal(npi: str, *, served: str = "20240301", rx: str = "1001", fill: str = "0") -> bytes:
    claim = codec.Segment("07", (("EM", "1"), ("D2", rx), ("D3", fill)))
    return _write("B2", npi, served, [], [[claim]], None)


def eligibility(
    cardholder: str, npi: str, *, served: str = "20240301", birth: str | None = None
) -> bytes:
    transmission = [codec.Segment("04", (("C2", cardholder),))]
    if birth is not None:
        transmission.append(codec.Segment("01", (("C4", birth),)))
    return _write("E1", npi, served, transmission, [[]], None)


def _write(
    code: str,
    npi: str,
    served: str,
    transmission: list[codec.Segment],
    groups: list[list[codec.Segment]],
    overrides: dict[str, str] | None,
) -> bytes:
    text = codec.write_request(
        codec.Transmission(
            header(code, npi, served, **(overrides or {})),
            codec.Group(tuple(transmission)),
            tuple(codec.Group(tuple(group)) for group in groups),
        )
    )
    return text.encode("ascii")


def parsed(response: bytes) -> codec.Transmission:
    return codec.parse_response(response.decode("ascii"))


def status(response: bytes, group: int = 0) -> codec.Segment:
    found = parsed(response).groups[group].segment("21")
    assert found is not None
    return found


def pricing(response: bytes, group: int = 0) -> dict[str, Any]:
    """AM23 as cents: {"F5": ..., "F9": ..., ...}."""
    found = parsed(response).groups[group].segment("23")
    assert found is not None
    return {name: read_amount(value) for name, value in found.fields}


def messages(response: bytes, group: int = 0) -> list[str]:
    return status(response, group).every("FQ")
